package network_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
)

func TestPrivilegedExternal(t *testing.T) {
	privtest.Require(t, "ip")
	before := hostSnapshot(t)
	plan := testPlan(t)
	root := t.TempDir()
	t.Cleanup(func() { network.Teardown(context.Background(), plan.Lab, network.WithStateRoot(root)) })
	lab := buildLab(t, plan, root)

	// `svclab external run` opens the running lab's network from another process.
	n, err := network.Open(plan.Lab, network.WithStateRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	x, err := n.AddExternal(context.Background(), "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if want := netipAdd(plan.NodeCIDR.Addr(), 200); x.IP.String() != want {
		t.Errorf("external address %s, want %s", x.IP, want)
	}
	addr := net.JoinHostPort(x.IP.String(), "8080")
	serve(t, x.NetNSPath, addr, "legacy")

	// From the host, from a node and from pods on both nodes (the reply to a pod goes back
	// through its node thanks to the external's pod routes; the host never forwards).
	from := map[string]string{"host": "", "node n1": lab.nodes[0].NetNSPath}
	for i, pods := range lab.pods {
		from[fmt.Sprintf("pod on n%d", i+1)] = pods[0].NetNSPath
	}
	for who, ns := range from {
		if got, err := probe(ns, addr); err != nil || got != "hello from legacy" {
			t.Errorf("%s → external %s: %q, %v", who, addr, got, err)
		}
	}

	if err := network.Teardown(context.Background(), plan.Lab, network.WithStateRoot(root)); err != nil {
		t.Fatal(err)
	}
	if after := hostSnapshot(t); after != before {
		t.Errorf("host changed after Teardown:\n%s", privtest.Diff(before, after))
	}
}

func netipAdd(a interface{ As4() [4]byte }, n byte) string {
	b := a.As4()
	return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3]+n)
}
