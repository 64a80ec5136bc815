package nftables

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// countingFake counts transactions.
type countingFake struct {
	*knftables.Fake
	runs int
}

func (c *countingFake) Run(ctx context.Context, tx *knftables.Transaction) error {
	c.runs++
	return c.Fake.Run(ctx, tx)
}

// TestStagedFullSync: a first sync of more than stagingBatch Services writes the new
// chains in staging transactions and ends in the same table as one transaction would.
func TestStagedFullSync(t *testing.T) {
	const n = 2*stagingBatch + 10
	tr := proxy.NewTracker(pt.NodeName, nil)
	for i := range n {
		name := fmt.Sprintf("svc%d", i)
		pt.Feed(tr, pt.Service("bench", name, fmt.Sprintf("172.30.%d.%d", i/250, i%250+1), pt.Port("p80", 80, corev1.ProtocolTCP)),
			pt.Slice("bench", name, "p80", 80, corev1.ProtocolTCP, pt.EP{IP: fmt.Sprintf("10.180.%d.%d", i/250, i%250+1), Node: pt.NodeName}))
	}
	st := tr.Apply()
	staged := &countingFake{Fake: knftables.NewFake(knftables.IPv4Family, TableName)}
	p, err := New(pt.Config(), staged, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, p, st)
	if want := 1 + (n+stagingBatch-1)/stagingBatch; staged.runs != want {
		t.Errorf("%d transactions, want %d (staging batches plus the main one)", staged.runs, want)
	}
	checkConsistency(t, staged.Fake)

	// The same State synced as a resync of an existing table (no staging: the chains
	// exist) gives the same table.
	st.Full = true
	mustSync(t, p, st)
	oneTx, q := newFakeProxier(t, pt.Config())
	q.writeOnce(t, st)
	if got, want := normalizeDump(staged.Dump()), normalizeDump(oneTx.Dump()); got != want {
		t.Errorf("staged sync differs from a single transaction:\n%s", pt.LineDiff(want, got))
	}
}

// writeOnce syncs st in one transaction (staging off).
func (p *Proxier) writeOnce(t *testing.T, st *proxy.State) {
	t.Helper()
	ctx := context.Background()
	tx := p.nft.NewTransaction()
	p.setupTable(tx)
	active := map[string]bool{}
	for _, name := range st.SortedServicePorts() {
		p.writeServicePort(tx, nil, st.Services[name], st.Endpoints[name], false, active, sets.New[string]())
	}
	if err := p.nft.Run(ctx, tx); err != nil {
		t.Fatal(err)
	}
}
