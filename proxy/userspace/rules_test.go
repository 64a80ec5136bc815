package userspace

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	pt "github.com/svclab/svclab/proxy/proxytest"
)

func TestSyncRules(t *testing.T) {
	p, fake := newFakeProxier(t, Options{})
	ctx := context.Background()
	if err := p.Sync(ctx, testState()); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Restores); n != 1 {
		t.Fatalf("%d restores in one sync, want 1", n)
	}
	// The jump order matters (portals before NodePorts, the reject before the accept), so
	// the tables are compared as saved.
	pt.Golden(t, "sync", save(t, fake))
	pt.Golden(t, "sync-payload", fake.LastRestore())

	// A second identical sync changes nothing and restores nothing; the jumps stay single.
	st := testState()
	st.Full = false
	st.Changed = sets.New[types.NamespacedName]()
	before := save(t, fake)
	if err := p.Sync(ctx, st); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Restores); n != 1 {
		t.Fatalf("an unchanged sync restored again (%d restores)", n)
	}
	if after := save(t, fake); after != before {
		t.Fatalf("an unchanged sync changed the tables:\n%s", after)
	}
}

func TestSyncListenIP(t *testing.T) {
	// A specific listen address makes every portal DNAT to it.
	p, fake := newFakeProxier(t, Options{ListenIP: netip.MustParseAddr("192.168.0.2")})
	if err := p.Sync(context.Background(), testState()); err != nil {
		t.Fatal(err)
	}
	payload := fake.LastRestore()
	if strings.Contains(payload, "REDIRECT") {
		t.Fatalf("REDIRECT with a specific listen address:\n%s", payload)
	}
	want := `-A KUBE-PORTALS-CONTAINER -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80" -m tcp --dport 80 -j DNAT --to-destination 192.168.0.2:36000`
	if !strings.Contains(payload, want+"\n") {
		t.Fatalf("missing %q in:\n%s", want, payload)
	}
}

func TestSyncRemovesAndUpdates(t *testing.T) {
	p, fake := newFakeProxier(t, Options{})
	ctx := context.Background()
	if err := p.Sync(ctx, testState()); err != nil {
		t.Fatal(err)
	}
	// svc4 gets an endpoint (its reject goes), svc2 is deleted (its listener and rules go).
	st := testState()
	name4 := p.findName(t, "ns4/svc4:p80")
	name2 := p.findName(t, "ns2/svc2:p53")
	delete(st.Services, name2)
	delete(st.Endpoints, name2)
	st.Endpoints[name4] = st.Endpoints[p.findName(t, "ns1/svc1:p80")]
	if err := p.Sync(ctx, st); err != nil {
		t.Fatal(err)
	}
	got := save(t, fake)
	for _, gone := range []string{"ns4/svc4:p80 has no endpoints", "ns2/svc2:p53", "KUBE-NODEPORT-NON-LOCAL -p udp"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q still in the rules:\n%s", gone, got)
		}
	}
	tbl := p.Table()
	if len(tbl.Services) != 4 {
		t.Fatalf("table has %d services, want 4", len(tbl.Services))
	}
	// Listeners are kept across syncs: svc1 still has its first port.
	if e, _ := tbl.Lookup(36000, "tcp"); e.Name != "ns1/svc1:p80" {
		t.Fatalf("port 36000 is %q, want ns1/svc1:p80 kept", e.Name)
	}
}

func TestCleanup(t *testing.T) {
	p, fake := newFakeProxier(t, Options{})
	ctx := context.Background()
	if err := p.Sync(ctx, testState()); err != nil {
		t.Fatal(err)
	}
	// Rules of an older run this process never made, and another program's rule, too.
	extra := "*nat\n:KUBE-PORTALS-OLD - [0:0]\n-A KUBE-PORTALS-OLD -j RETURN\n-A PREROUTING -j KUBE-PORTALS-OLD\n-A PREROUTING -p tcp -j ACCEPT\nCOMMIT\n"
	if err := fake.Restore(ctx, []byte(extra)); err != nil {
		t.Fatal(err)
	}
	fresh, _ := newFakeProxier(t, Options{})
	fresh.ipt = fake
	if err := fresh.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	got := save(t, fake)
	for _, name := range []string{"KUBE-PORTALS", "KUBE-NODEPORT-", RejectChain} {
		if strings.Contains(got, name) {
			t.Errorf("%s left after cleanup:\n%s", name, got)
		}
	}
	if !strings.Contains(got, "-A PREROUTING -p tcp -j ACCEPT") {
		t.Errorf("another program's rule was removed:\n%s", got)
	}
	if err := p.Cleanup(ctx); err != nil {
		t.Fatalf("second cleanup: %v", err)
	}
	if len(p.Table().Services) != 0 {
		t.Fatal("listeners left after Cleanup")
	}
}
