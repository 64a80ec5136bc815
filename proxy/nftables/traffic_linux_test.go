package nftables

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/privtest"
	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/proxytest/netnstest"
)

// TestPrivilegedNFTablesTraffic sends real TCP connections to a ClusterIP: a "node"
// namespace holding the rules, joined by a veth pair to a "pod" namespace serving on the
// endpoint address. It also checks that a Service without endpoints is refused at once.
func TestPrivilegedNFTablesTraffic(t *testing.T) {
	privtest.Require(t, "ip", "nft")
	node, pod := netnstest.NewNS(t, "nftables"), netnstest.NewNS(t, "nftables")
	netnstest.Veth(t, netnstest.End{NS: node, Dev: "veth0", Addrs: []string{"10.180.0.254/24"}},
		netnstest.End{NS: pod, Dev: "eth0", Addrs: []string{"10.180.0.1/24"}})
	// The ClusterIP needs a route for the first routing decision, before DNAT.
	node.RouteDev(t, "172.30.0.0/16", "veth0")
	pod.ServeTCP(t, "tcp", "10.180.0.1:80", netnstest.Text("10.180.0.1"))

	// knftables runs nft as a child process, which starts in the namespace of the
	// thread it is forked from.
	defer node.Enter(t)()

	ctx := context.Background()
	p, err := NewKernel(pt.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const tcp = corev1.ProtocolTCP
	state := pt.State(
		pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, tcp)),
		pt.Slice("ns1", "svc1", "p80", 80, tcp, pt.EP{IP: "10.180.0.1", Node: pt.NodeName}),
		pt.Service("ns6", "svc6", "172.30.0.46", pt.Port("p80", 80, tcp)),
	)
	if err := p.Sync(ctx, state); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Cleanup(ctx) }()

	for i := 0; i < 5; i++ {
		b, err := netnstest.Get(ctx, node, "tcp", "172.30.0.41:80", 2*time.Second)
		if err != nil || b != "10.180.0.1" {
			t.Fatalf("connect to and read from the ClusterIP: %q, %v", b, err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	if c, err := node.DialContext(dctx, "tcp", "172.30.0.46:80"); err == nil {
		_ = c.Close()
		t.Error("connected to a Service without endpoints")
	} else if time.Since(start) > time.Second {
		t.Errorf("Service without endpoints timed out instead of being refused: %v", err)
	}
}
