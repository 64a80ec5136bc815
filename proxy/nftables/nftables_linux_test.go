package nftables

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/proxytest/netnstest"
)

// TestPrivilegedNFTables applies the scenario through the real nft tool inside a new
// network namespace, traces the real `nft list table` text, checks a partial sync and
// Cleanup. With -update it rewrites testdata/scenario.live.nft, the tracer's unit-test
// input.
func TestPrivilegedNFTables(t *testing.T) {
	privtest.Require(t, "ip", "nft")
	ns := netnstest.NewNS(t, "nftables")
	list := func() (string, error) {
		out, err := ns.Command("nft", "list", "table", "ip", TableName).CombinedOutput()
		return string(out), err
	}

	// knftables runs nft as a child process; a child forked from this locked thread
	// starts in the thread's network namespace.
	defer ns.Enter(t)()

	ctx := context.Background()
	p, err := NewKernel(pt.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, scenario()...)
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	live, err := list()
	if err != nil {
		t.Fatalf("nft list table: %v: %s", err, live)
	}
	for _, want := range []string{
		"chain service-ULMVA6XW-ns1/svc1/tcp/p80 {",
		"numgen random mod 2 vmap { 0 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80, 1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 }",
		"type nat hook prerouting priority dstnat; policy accept;",
		"set affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 {",
	} {
		if !strings.Contains(live, want) {
			t.Errorf("live table lacks %q", want)
		}
	}
	if *pt.Update {
		if err := os.WriteFile(filepath.Join("testdata", "scenario.live.nft"), []byte(live), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkFlows(t, live, scenarioFlows)

	// Partial sync: svc4 loses an endpoint, svc1 goes away.
	pt.Feed(tr, pt.Slice("ns4", "svc4", "p80", 80, corev1.ProtocolTCP, pt.EP{IP: "10.180.0.5", Node: pt.NodeName}))
	tr.OnServiceDelete(pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, corev1.ProtocolTCP)))
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatalf("partial sync rejected by the kernel: %v", err)
	}
	live, err = list()
	if err != nil {
		t.Fatalf("nft list table: %v: %s", err, live)
	}
	if strings.Contains(live, "ns1/svc1") || strings.Contains(live, "10.180.0.4") {
		t.Errorf("partial sync left svc1 or the removed endpoint:\n%s", live)
	}
	checkFlows(t, live, []packetFlow{
		{"svc4 after the change", "network", "10.180.0.2", "172.30.0.44:80", "tcp", "10.180.0.5:80", "forwarded", false},
		{"svc1 deleted", "network", "10.180.0.2", "172.30.0.41:80", "tcp", "", "untouched", false},
		{"svc3 untouched", "network", "203.0.113.9", "192.168.0.2:3003", "tcp", "10.180.0.3:80", "forwarded", true},
	})

	// A second full sync of the same state (e.g. the periodic resync) is accepted too.
	s := tr.Apply()
	s.Full = true
	if err := p.Sync(ctx, s); err != nil {
		t.Fatalf("full resync: %v", err)
	}

	if err := p.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := list(); err == nil {
		t.Errorf("table still there after Cleanup:\n%s", out)
	}
	if err := p.Cleanup(ctx); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}
