package userspace

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/proxytest/netnstest"
	"github.com/svclab/svclab/proxy/trace"
)

// TestPrivilegedUserspace programs the portal rules with the real iptables-restore in a
// node namespace it creates, runs the proxy's listeners there, and sends traffic to
// ClusterIPs and a NodePort from the node itself (OUTPUT, DNAT) and from a pod namespace
// behind a veth (PREROUTING, REDIRECT).
//
//	pod netns   v1 10.180.0.5/24, default via 10.180.0.1
//	node netns  v0 10.180.0.1/24 and 192.168.0.2/24; endpoint servers on 192.168.0.2
func TestPrivilegedUserspace(t *testing.T) {
	privtest.Require(t, "ip", "iptables", "iptables-save", "iptables-restore")
	node, pod := netnstest.NewNS(t, "userspace"), netnstest.NewNS(t, "userspace")
	netnstest.Veth(t, netnstest.End{NS: node, Dev: "v0", Addrs: []string{"10.180.0.1/24", "192.168.0.2/24"}},
		netnstest.End{NS: pod, Dev: "v1", Addrs: []string{"10.180.0.5/24"}})
	// The node's own connections to ClusterIPs need a route before OUTPUT's DNAT.
	node.RouteDev(t, "172.30.0.0/16", "v0")
	pod.DefaultVia(t, "10.180.0.1")
	ctx := context.Background()

	// Endpoints: two TCP servers and a UDP echo server in the node namespace.
	var eps []netip.AddrPort
	for _, name := range []string{"A", "B"} {
		ln := node.ServeTCP(t, "tcp4", "192.168.0.2:0", netnstest.Text(name))
		eps = append(eps, netip.MustParseAddrPort(ln.Addr().String()))
	}
	pc, err := node.ListenPacket(ctx, "udp4", "192.168.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	netnstest.EchoUDP(t, pc, "echo:")
	echo := netip.MustParseAddrPort(pc.LocalAddr().String())

	iptables := &ipt.Exec{Prefix: node.Prefix()}
	cfg := proxy.Config{NodeName: "node1", NodeIPs: []netip.Addr{netip.MustParseAddr("192.168.0.2")}}
	p, err := New(cfg, iptables, Options{Listener: node, Dialer: node}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ip := netip.MustParseAddr
	st := loopState(map[string]*proxy.ServicePort{
		"ns1/web:http": {ClusterIP: ip("172.30.0.41"), Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 3001,
			ExternalIPs: []netip.Addr{ip("192.168.99.11")}, LoadBalancerVIPs: []netip.Addr{ip("1.2.3.4")}},
		"ns1/dns:dns":    {ClusterIP: ip("172.30.0.43"), Port: 53, Protocol: corev1.ProtocolUDP},
		"ns1/empty:http": {ClusterIP: ip("172.30.0.44"), Port: 80, Protocol: corev1.ProtocolTCP},
	}, map[string][]netip.AddrPort{
		"ns1/web:http": eps,
		"ns1/dns:dns":  {echo},
	})
	if err := p.Sync(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(ctx, st); err != nil {
		t.Fatalf("second sync: %v", err)
	}

	// The kernel shows the rules exactly as rendered (so the tracer reads what we wrote).
	saved := node.Exec(t, "iptables-save")
	for _, line := range strings.Split(string(p.lastPayload), "\n") {
		if strings.HasPrefix(line, "-A ") && !strings.Contains(saved, line+"\n") {
			t.Errorf("rendered rule not in iptables-save as written: %s", line)
		}
	}
	for _, j := range jumpRules() {
		if n := strings.Count(saved, "-j "+j.args[len(j.args)-1]+"\n"); n != 1 {
			t.Errorf("%d jumps to %s after two syncs, want 1", n, j.args[len(j.args)-1])
		}
	}
	if t.Failed() {
		t.Fatalf("iptables-save:\n%s", saved)
	}

	get := func(from *netnstest.NS, addr string) (string, error) {
		return netnstest.Get(ctx, from, "tcp4", addr, 2*time.Second)
	}
	for _, tc := range []struct{ name, where string }{
		{"pod to ClusterIP (REDIRECT)", "pod:172.30.0.41:80"},
		{"node to ClusterIP (DNAT)", "node:172.30.0.41:80"},
		{"pod to NodePort", "pod:192.168.0.2:3001"},
		{"node to NodePort", "node:192.168.0.2:3001"},
		{"pod to LoadBalancer IP", "pod:1.2.3.4:80"},
		{"pod to externalIP", "pod:192.168.99.11:80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, addr, _ := strings.Cut(tc.where, ":")
			n := node
			if from == "pod" {
				n = pod
			}
			seen := map[string]int{}
			for range 4 {
				got, err := get(n, addr)
				if err != nil {
					t.Fatalf("GET %s from %s: %v", addr, from, err)
				}
				seen[got]++
			}
			if seen["A"] != 2 || seen["B"] != 2 {
				t.Fatalf("answers %v, want A and B twice each (round robin)", seen)
			}
		})
	}
	t.Run("no endpoints is refused at once", func(t *testing.T) {
		start := time.Now()
		_, err := get(pod, "172.30.0.44:80")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("err = %v, want connection refused", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("refused after %v", d)
		}
	})
	t.Run("UDP from pod", func(t *testing.T) {
		c, err := pod.DialContext(ctx, "udp4", "172.30.0.43:53")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		checkEcho(t, c, "one", "two")
	})

	// The tracer reads the kernel's own iptables-save and the live table.
	t.Run("trace", func(t *testing.T) {
		info := NodeInfo{Name: "node1", LocalAddrs: []netip.Addr{ip("192.168.0.2"), ip("10.180.0.1")}}
		saved := node.Exec(t, "iptables-save")
		for _, tc := range []struct {
			pkt  trace.Packet
			want trace.Verdict
		}{
			{trace.Packet{Origin: trace.FromNetwork, Src: ip("10.180.0.5"), Dst: ip("172.30.0.41"), DstPort: 80, Protocol: "tcp"}, trace.Proxied},
			{trace.Packet{Origin: trace.FromNode, Src: ip("192.168.0.2"), Dst: ip("192.168.0.2"), DstPort: 3001, Protocol: "tcp"}, trace.Proxied},
			{trace.Packet{Origin: trace.FromNetwork, Src: ip("10.180.0.5"), Dst: ip("172.30.0.44"), DstPort: 80, Protocol: "tcp"}, trace.Rejected},
			{trace.Packet{Origin: trace.FromNetwork, Src: ip("10.180.0.5"), Dst: ip("172.30.0.99"), DstPort: 80, Protocol: "tcp"}, trace.Untouched},
		} {
			res, err := Trace(saved, p.Table(), tc.pkt, info)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || (tc.want == trace.Proxied && len(res.Choices) != 2) {
				t.Errorf("trace %s: verdict %s with %d choices, want %s\n%s", tc.pkt, res.Verdict, len(res.Choices), tc.want, res)
			}
		}
	})

	// Cleanup leaves no chain or jump of this mode.
	if err := p.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	saved = node.Exec(t, "iptables-save")
	for _, name := range []string{"KUBE-PORTALS", "KUBE-NODEPORT-", RejectChain} {
		if strings.Contains(saved, name) {
			t.Fatalf("%s left after Cleanup:\n%s", name, saved)
		}
	}
}
