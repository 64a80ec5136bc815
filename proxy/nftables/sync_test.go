package nftables

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// TestSyncGolden renders the scenario and compares the whole table with the golden dump.
func TestSyncGolden(t *testing.T) {
	nft, p := newFakeProxier(t, pt.Config())
	mustSync(t, p, pt.State(scenario()...))
	checkConsistency(t, nft)
	pt.Golden(t, "scenario", normalizeDump(nft.Dump()))
}

// TestSyncNodePortAddresses covers --nodeport-addresses: the nodeport-ips set replaces
// "fib daddr type local".
func TestSyncNodePortAddresses(t *testing.T) {
	cfg := pt.Config()
	cfg.NodePortAddresses = []netipPrefix{mustPrefix("192.168.0.0/24")}
	nft, p := newFakeProxier(t, cfg)
	mustSync(t, p, pt.State(scenario()[:6]...))
	checkConsistency(t, nft)
	dump := nft.Dump()
	for _, want := range []string{
		"add element ip kube-proxy nodeport-ips { 192.168.0.2 }",
		"add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
		"add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
	} {
		if !strings.Contains(dump, want+"\n") {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(dump, "192.168.1.2") {
		t.Errorf("nodeport-ips holds an address outside --nodeport-addresses")
	}
}

// TestUpstreamVectors checks names and rules from upstream's TestOverallNFTablesRules.
func TestUpstreamVectors(t *testing.T) {
	nft, p := newFakeProxier(t, pt.Config())
	mustSync(t, p, pt.State(scenario()...))
	dump := nft.Dump()
	for _, want := range []string{
		"add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }",
		"add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 ip saddr 10.180.0.1 jump mark-for-masquerade",
		"add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 meta l4proto tcp dnat to 10.180.0.1:80",
		"add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 ip saddr 10.0.0.0/8 goto service-42NFTM6N-ns2/svc2/tcp/p80 comment \"short-circuit pod traffic\"",
		"add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\"",
		"add element ip kube-proxy no-endpoint-nodeports { tcp . 3001 comment \"ns2/svc2:p80\" : drop }",
		"add element ip kube-proxy service-nodeports { tcp . 3003 : goto external-4AT6LBPK-ns3/svc3/tcp/p80 }",
		"add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80 , 1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 }",
		"add set ip kube-proxy affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }",
		"add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80",
		"add rule ip kube-proxy firewall-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr != { 203.0.113.0/25 } drop",
		"add element ip kube-proxy firewall-ips { 5.6.7.8 . tcp . 80 : goto firewall-HVFWP5L3-ns5/svc5/tcp/p80 }",
		"add element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 comment \"ns6/svc6:p80\" : goto reject-chain }",
	} {
		if !strings.Contains(dump, want+"\n") {
			t.Errorf("missing upstream rule:\n%s", want)
		}
	}
}

// TestMinimalSync checks that a partial sync rewrites only the changed Service's chains,
// diffs the maps, deletes removed Services' chains, and ends where a full sync would.
func TestMinimalSync(t *testing.T) {
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, scenario()...)
	nft, p := newFakeProxier(t, pt.Config())
	mustSync(t, p, tr.Apply())

	// ns4/svc4 loses an endpoint, ns1/svc1 is deleted, ns3/svc3 is untouched.
	const tcp = corev1.ProtocolTCP
	pt.Feed(tr, pt.Slice("ns4", "svc4", "p80", 80, tcp, pt.EP{IP: "10.180.0.5", Node: pt.NodeName}))
	tr.OnServiceDelete(pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, tcp)))
	state := tr.Apply()
	if state.Full {
		t.Fatal("second state asks for a full sync")
	}
	mustSync(t, p, state)
	checkConsistency(t, nft)

	tx := nft.LastTransaction.String()
	for _, notWant := range []string{"add table", "svc3", "svc5", "flush map", "nat-prerouting"} {
		if strings.Contains(tx, notWant) {
			t.Errorf("partial sync transaction mentions %q:\n%s", notWant, tx)
		}
	}
	for _, want := range []string{
		"flush chain ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80",
		"delete chain ip kube-proxy endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80",
		"delete chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80",
		"delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }",
		"delete element ip kube-proxy cluster-ips { 172.30.0.41 }",
	} {
		if !strings.Contains(tx, want) {
			t.Errorf("partial sync transaction lacks %q:\n%s", want, tx)
		}
	}

	// The result equals a fresh full sync of the same state.
	full, fp := newFakeProxier(t, pt.Config())
	state.Full = true
	mustSync(t, fp, state)
	if got, want := normalizeDump(nft.Dump()), normalizeDump(full.Dump()); got != want {
		t.Errorf("partial sync result differs from a full sync:\n%s", pt.LineDiff(want, got))
	}
}

// TestSyncNoOp checks that a partial sync with nothing changed writes no chain.
func TestSyncNoOp(t *testing.T) {
	nft, p := newFakeProxier(t, pt.Config())
	s := pt.State(scenario()...)
	mustSync(t, p, s)
	before := nft.Dump()
	s.Full, s.Changed = false, sets.New[types.NamespacedName]()
	mustSync(t, p, s)
	if tx := nft.LastTransaction.String(); strings.Contains(tx, "chain") || strings.Contains(tx, "element") {
		t.Errorf("no-op sync wrote:\n%s", tx)
	}
	if nft.Dump() != before {
		t.Error("no-op sync changed the table")
	}
}

// TestSyncFailureForcesFull checks that after a failed transaction the next sync is full.
func TestSyncFailureForcesFull(t *testing.T) {
	nft, p := newFakeProxier(t, pt.Config())
	s := pt.State(scenario()...)
	mustSync(t, p, s)
	failing := &failOnce{Interface: nft}
	p.nft = failing
	s.Full, s.Changed = false, sets.New(types.NamespacedName{Namespace: "ns1", Name: "svc1"})
	if err := p.Sync(context.Background(), s); err == nil {
		t.Fatal("Sync succeeded over a failing interface")
	}
	s.Changed = sets.New[types.NamespacedName]()
	mustSync(t, p, s)
	if !strings.Contains(nft.LastTransaction.String(), "add table") {
		t.Error("sync after a failure was not full")
	}
	checkConsistency(t, nft)
}

type failOnce struct {
	knftables.Interface
	failed bool
}

func (f *failOnce) Run(ctx context.Context, tx *knftables.Transaction) error {
	if !f.failed {
		f.failed = true
		return errors.New("injected failure")
	}
	return f.Interface.Run(ctx, tx)
}

// TestCleanup removes the table and tolerates its absence.
func TestCleanup(t *testing.T) {
	nft, p := newFakeProxier(t, pt.Config())
	mustSync(t, p, pt.State(scenario()...))
	for i := 0; i < 2; i++ {
		if err := p.Cleanup(context.Background()); err != nil {
			t.Fatalf("Cleanup #%d: %v", i+1, err)
		}
	}
	if nft.Table != nil || nft.Dump() != "" {
		t.Errorf("table left after Cleanup:\n%s", nft.Dump())
	}
	// A sync after Cleanup rebuilds everything.
	mustSync(t, p, pt.State(scenario()...))
	checkConsistency(t, nft)
}
