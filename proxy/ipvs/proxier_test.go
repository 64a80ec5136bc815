package ipvs

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt/ipttest"
	"github.com/svclab/svclab/proxy/ipvs/ipvstest"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

type fakes struct {
	ipvs *ipvstest.IPVS
	nl   *ipvstest.Netlink
	sets *ipvstest.IPSet
	ipt  *ipttest.Fake
}

func newTestProxier(t *testing.T, opts Options) (*Proxier, *fakes) {
	t.Helper()
	f := &fakes{ipvs: ipvstest.NewIPVS(), nl: ipvstest.NewNetlink(pt.NodeIP, pt.NodeIPAlt), sets: ipvstest.NewIPSet(), ipt: ipttest.New()}
	p, err := New(pt.Config(), opts, Handles{IPVS: f.ipvs, Netlink: f.nl, IPSet: f.sets, IPTables: f.ipt}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

// objects is a representative node1 view: ClusterIP, NodePort + LoadBalancer with Local
// policy, externalIPs with affinity, UDP with internalTrafficPolicy Local, no endpoints, a
// terminating endpoint and a load balancer with source ranges.
func objects() []any {
	return []any{
		pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, corev1.ProtocolTCP)),
		pt.Slice("ns1", "svc1", "p80", 80, corev1.ProtocolTCP,
			pt.EP{IP: "10.180.0.1", Node: "node1"}, pt.EP{IP: "10.180.1.1", Node: "node2"}),

		pt.Service("ns2", "svc2", "172.30.0.42", pt.Port("p80", 80, corev1.ProtocolTCP), pt.NodePort(3001),
			pt.LoadBalancer("1.2.3.4"), pt.ExternalLocal(30000)),
		pt.Slice("ns2", "svc2", "p80", 8080, corev1.ProtocolTCP,
			pt.EP{IP: "10.180.0.2", Node: "node1"}, pt.EP{IP: "10.180.1.2", Node: "node2"}),

		pt.Service("ns3", "svc3", "172.30.0.43", pt.Port("p80", 80, corev1.ProtocolTCP),
			pt.ExternalIPs("192.168.99.11"), pt.Affinity(100)),
		pt.Slice("ns3", "svc3", "p80", 80, corev1.ProtocolTCP,
			pt.EP{IP: "10.180.0.3", Node: "node1"}, pt.EP{IP: "10.180.1.3", Node: "node2"}),

		pt.Service("ns4", "dns", "172.30.0.44", pt.Port("dns", 53, corev1.ProtocolUDP), pt.InternalLocal),
		pt.Slice("ns4", "dns", "dns", 53, corev1.ProtocolUDP, pt.EP{IP: "10.180.1.4", Node: "node2"}),

		pt.Service("ns5", "empty", "172.30.0.45", pt.Port("p80", 80, corev1.ProtocolTCP)),

		pt.Service("ns6", "rolling", "172.30.0.46", pt.Port("p80", 80, corev1.ProtocolTCP), pt.NodePort(3006)),
		pt.Slice("ns6", "rolling", "p80", 80, corev1.ProtocolTCP,
			pt.EP{IP: "10.180.0.6", Node: "node1", Terminating: true}, pt.EP{IP: "10.180.1.6", Node: "node2"}),

		pt.Service("ns7", "fw", "172.30.0.47", pt.Port("p80", 80, corev1.ProtocolTCP), pt.LoadBalancer("5.6.7.8"),
			func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/25"} }),
		pt.Slice("ns7", "fw", "p80", 80, corev1.ProtocolTCP, pt.EP{IP: "10.180.1.7", Node: "node2"}),
	}
}

// dump renders everything the proxier programmed, for golden comparison.
func dump(t *testing.T, f *fakes) string {
	t.Helper()
	ctx := context.Background()
	table, err := ReadTable(ctx, f.ipvs, f.sets)
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := f.nl.Addresses(ctx, DummyDevice)
	var b strings.Builder
	b.WriteString("# ipvsadm -Ln\n" + table.String())
	b.WriteString("\n# ip -4 addr show kube-ipvs0\n")
	for _, a := range addrs {
		b.WriteString(a.String() + "/32\n")
	}
	saved, _ := f.sets.Save(ctx)
	b.WriteString("\n# ipset save\n" + string(saved))
	rules, _ := f.ipt.Save(ctx, "")
	b.WriteString("\n# iptables-save\n" + string(rules))
	return b.String()
}

func TestSyncDesiredState(t *testing.T) {
	p, f := newTestProxier(t, Options{})
	if err := p.Sync(context.Background(), pt.State(objects()...)); err != nil {
		t.Fatal(err)
	}
	pt.Golden(t, "sync", dump(t, f))
}

func TestSyncTwiceChangesNothing(t *testing.T) {
	p, f := newTestProxier(t, Options{})
	ctx := context.Background()
	st := pt.State(objects()...)
	if err := p.Sync(ctx, st); err != nil {
		t.Fatal(err)
	}
	f.ipvs.ResetCalls()
	f.nl.Calls = nil
	before := dump(t, f)
	if err := p.Sync(ctx, st); err != nil {
		t.Fatal(err)
	}
	if len(f.ipvs.Calls) != 0 || len(f.nl.Calls) != 0 {
		t.Errorf("second identical sync changed the kernel: ipvs %q netlink %q", f.ipvs.Calls, f.nl.Calls)
	}
	if after := dump(t, f); after != before {
		t.Errorf("state changed:\n%s", after)
	}
}

func TestSyncRemovesStale(t *testing.T) {
	p, f := newTestProxier(t, Options{})
	ctx := context.Background()
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, objects()...)
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	// svc1 loses 10.180.1.1 (which still has a TCP connection: it is quiesced, not
	// deleted), svc3 is deleted, svc4 (UDP) loses its endpoint.
	f.ipvs.SetConnections("172.30.0.41:80/TCP", netip.MustParseAddrPort("10.180.1.1:80"), 1, 0)
	pt.Feed(tr, pt.Slice("ns1", "svc1", "p80", 80, corev1.ProtocolTCP, pt.EP{IP: "10.180.0.1", Node: "node1"}))
	tr.OnServiceDelete(pt.Service("ns3", "svc3", "172.30.0.43"))
	pt.Feed(tr, pt.Slice("ns4", "dns", "dns", 53, corev1.ProtocolUDP))
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	pt.Golden(t, "sync-update", dump(t, f))

	// Once the connection is gone, the next sync deletes the quiesced real server.
	f.ipvs.SetConnections("172.30.0.41:80/TCP", netip.MustParseAddrPort("10.180.1.1:80"), 0, 0)
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	table, _ := ReadTable(ctx, f.ipvs, nil)
	if s := table.String(); strings.Contains(s, "10.180.1.1:80") {
		t.Errorf("quiesced real server not deleted after its connections ended:\n%s", s)
	}
}

func TestSyncAffinityChangeUpdatesService(t *testing.T) {
	p, f := newTestProxier(t, Options{Scheduler: "wrr"})
	ctx := context.Background()
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, objects()[:2]...)
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	f.ipvs.ResetCalls()
	pt.Feed(tr, pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, corev1.ProtocolTCP), pt.Affinity(60)))
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	want := []string{"UpdateService 172.30.0.41:80/TCP wrr flags=0x1 timeout=60"}
	if strings.Join(f.ipvs.Calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls = %q, want %q", f.ipvs.Calls, want)
	}
}

func TestCleanupRemovesEverything(t *testing.T) {
	p, f := newTestProxier(t, Options{})
	ctx := context.Background()
	// Another program's rule in the same table survives.
	if err := f.ipt.Restore(ctx, []byte("*nat\n:OTHER - [0:0]\n-A OTHER -j RETURN\nCOMMIT\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(ctx, pt.State(objects()...)); err != nil {
		t.Fatal(err)
	}
	if err := p.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	table, _ := ReadTable(ctx, f.ipvs, nil)
	if len(table.VirtualServers) != 0 {
		t.Errorf("virtual servers left:\n%s", table)
	}
	if f.nl.HasDevice(DummyDevice) {
		t.Errorf("%s left", DummyDevice)
	}
	if n := f.sets.Names(); len(n) != 0 {
		t.Errorf("ipsets left: %v", n)
	}
	rules, _ := f.ipt.Save(ctx, "")
	if strings.Contains(string(rules), "KUBE-") {
		t.Errorf("iptables rules left:\n%s", rules)
	}
	if !strings.Contains(string(rules), "-A OTHER -j RETURN") {
		t.Errorf("another program's rule was removed:\n%s", rules)
	}
	// Cleanup on a clean node is fine too.
	if err := p.Cleanup(ctx); err != nil {
		t.Errorf("second cleanup: %v", err)
	}
}

func TestNewRejectsUnknownScheduler(t *testing.T) {
	_, err := New(pt.Config(), Options{Scheduler: "fastest"}, Handles{}, nil)
	if err == nil || !strings.Contains(err.Error(), "--ipvs-scheduler") {
		t.Errorf("err = %v, want an error naming --ipvs-scheduler", err)
	}
}
