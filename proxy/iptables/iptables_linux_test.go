package iptables

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/proxytest/netnstest"
	"github.com/svclab/svclab/proxy/trace"
)

// chainNames lists the KUBE- chains of a table.
func chainNames(t *testing.T, save, table string) []string {
	t.Helper()
	tables, err := ParseSave(save)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range tables[table].Chains {
		if strings.HasPrefix(c.Name, "KUBE-") {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}

// TestPrivilegedIPTablesRestore applies syncs to a real kernel in a namespace of its own:
// the real iptables-restore accepts the full and the partial payloads, iptables-save shows
// the same chains the fake has, the tracer reads the kernel's own dump, a TCP connection
// to a ClusterIP reaches a server in a second namespace, and Cleanup leaves no KUBE- chain
// while other programs' rules stay.
func TestPrivilegedIPTablesRestore(t *testing.T) {
	privtest.Require(t, "ip", "iptables", "iptables-restore", "iptables-save")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	node, pod := netnstest.NewNS(t, "ipt"), netnstest.NewNS(t, "ipt")
	// node veth0 10.180.0.254/24 <-> pod veth1 10.180.0.10/24; Service addresses routed
	// towards the pod side so that connect() finds a route before the DNAT.
	netnstest.Veth(t, netnstest.End{NS: node, Dev: "veth0", Addrs: []string{"10.180.0.254/24"}},
		netnstest.End{NS: pod, Dev: "veth1", Addrs: []string{"10.180.0.10/24"}})
	node.RouteDev(t, "172.30.0.0/16", "veth0")
	pod.DefaultVia(t, "10.180.0.254")

	x := &ipt.Exec{Prefix: node.Prefix()}
	if err := x.Restore(ctx, []byte(otherPrograms)); err != nil {
		t.Fatal(err)
	}

	web := []any{
		pt.Service("lab", "web", "172.30.0.60", pt.Port("http", 80, tcp)),
		pt.Slice("lab", "web", "http", 8080, tcp, pt.EP{IP: "10.180.0.10", Node: "node1"}),
	}
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, append(representative(), web...)...)
	p, err := New(pt.Config(), x, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := tr.Apply()
	if err := p.Sync(ctx, st); err != nil {
		t.Fatalf("full sync rejected by the real iptables-restore: %v", err)
	}
	saved, err := x.Save(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	real := string(saved)
	want := fullEquivalent(t, st)
	for _, table := range []string{"nat", "filter"} {
		if got, want := chainNames(t, real, table), chainNames(t, want, table); !slices.Equal(got, want) {
			t.Errorf("%s chains in the kernel:\n%v\nwant (as in the fake):\n%v", table, got, want)
		}
	}
	for _, rule := range []string{"-j KUBE-SVC-XPGD46QRK7WJZT7O", "--probability 0.33333333349", "-j DNAT --to-destination 10.180.0.10:8080",
		`-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`, "-A DOCKER -i docker0 -j RETURN"} {
		if !strings.Contains(real, rule) {
			t.Errorf("iptables-save lacks %q", rule)
		}
	}
	checkConsistency(t, real)

	// The tracer reads the kernel's own formatting.
	t.Run("trace", func(t *testing.T) {
		runFlows(t, real, append(representativeFlows(),
			flowTest{name: "web from a pod", src: "10.180.0.100", dst: "172.30.0.60:80", verdict: trace.Forwarded, eps: []string{"10.180.0.10:8080"}}))
	})

	// A partial sync (one Service's endpoints change) is accepted too.
	pt.Feed(tr, pt.Slice("ns1", "svc1", "p80", 80, tcp, pt.EP{IP: "10.180.0.1", Node: "node1"}))
	st = tr.Apply()
	if st.Full {
		t.Fatal("expected a partial state")
	}
	if err := p.Sync(ctx, st); err != nil {
		t.Fatalf("partial sync rejected by the real iptables-restore: %v\n%s", err, p.LastPayload())
	}
	saved, _ = x.Save(ctx, "")
	real = string(saved)
	if got, want := chainNames(t, real, "nat"), chainNames(t, fullEquivalent(t, st), "nat"); !slices.Equal(got, want) {
		t.Errorf("nat chains after the partial sync:\n%v\nwant:\n%v", got, want)
	}
	checkConsistency(t, real)

	t.Run("traffic", func(t *testing.T) {
		pod.ServeTCP(t, "tcp", "10.180.0.10:8080", func(c net.Conn) string {
			return fmt.Sprintf("hello from %s to %s\n", c.LocalAddr(), c.RemoteAddr())
		})
		line, err := netnstest.Get(ctx, node, "tcp", "172.30.0.60:80", 3*time.Second)
		if err != nil || !strings.HasPrefix(line, "hello from 10.180.0.10:8080") {
			t.Fatalf("connect to the ClusterIP: reply %q, %v", line, err)
		}
		t.Logf("ClusterIP 172.30.0.60:80 answered: %s", strings.TrimSpace(line))

		// A Service without endpoints is refused at once, not timed out.
		start := time.Now()
		_, err = netnstest.Get(ctx, node, "tcp", "172.30.0.47:80", 3*time.Second)
		if err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("connect to a Service without endpoints: %v after %v, want an immediate refusal", err, time.Since(start))
		}
	})

	if err := p.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	saved, _ = x.Save(ctx, "")
	if strings.Contains(string(saved), "KUBE-") {
		t.Errorf("Cleanup left KUBE- rules:\n%s", saved)
	}
	for _, rule := range []string{"-A DOCKER -i docker0 -j RETURN", "-j CNI-FORWARD", "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"} {
		if !strings.Contains(string(saved), rule) {
			t.Errorf("Cleanup removed another program's rule %q", rule)
		}
	}
}
