package network_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/network/networktest"
)

func newTestNetwork(t *testing.T, k *networktest.Kernel, root, lab string) *network.Network {
	t.Helper()
	n, err := network.New(network.DefaultPlan(lab), network.WithKernel(k), network.WithStateRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkCalls(t *testing.T, k *networktest.Kernel, want string) {
	t.Helper()
	got := strings.Join(k.Calls(), "\n")
	want = strings.TrimSpace(strings.ReplaceAll(want, "\t", ""))
	if got != want {
		t.Errorf("kernel calls:\n%s\n\nwant:\n%s", got, want)
	}
	k.ResetCalls()
}

func TestNetworkSequence(t *testing.T) {
	ctx := context.Background()
	k := networktest.New()
	root := t.TempDir()
	initial := k.Dump()
	n := newTestNetwork(t, k, root, "t")

	if err := n.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		host: link add svclab-f10c3da3 type bridge alias svclab:t:bridge
		host: addr add 172.30.0.1/24 dev svclab-f10c3da3
		host: link set svclab-f10c3da3 up
		host: route add unreachable 10.244.0.0/16 proto 92 realm 8128
		host: route add unreachable 10.96.0.0/12 proto 92 realm 8128`)
	afterSetup := k.Dump()

	n1, err := n.AddNode(ctx, "n1", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		netns add svclab-t-n1
		host: link add svl0c3da3n0 type veth alias svclab:t:node:n1 peer eth0 netns svclab-t-n1
		host: link set svl0c3da3n0 master svclab-f10c3da3
		host: link set svl0c3da3n0 up
		svclab-t-n1: link set lo up
		svclab-t-n1: sysctl net.ipv4.ip_forward=1
		svclab-t-n1: sysctl net.ipv4.conf.all.route_localnet=1
		svclab-t-n1: addr add 172.30.0.11/24 dev eth0
		svclab-t-n1: link set eth0 up
		svclab-t-n1: route add default via 172.30.0.1 dev eth0 proto 92
		svclab-t-n1: route add unreachable 10.244.0.0/24 proto 92
		host: route add 10.244.0.0/24 via 172.30.0.11 dev svclab-f10c3da3 proto 92 realm 8128`)
	if n1.NetNSPath != "/run/netns/svclab-t-n1" || n1.IP.String() != "172.30.0.11" || n1.PodCIDR.String() != "10.244.0.0/24" {
		t.Errorf("node 1 = %+v", n1)
	}
	afterN1 := k.Dump()

	n2, err := n.AddNode(ctx, "n2", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		netns add svclab-t-n2
		host: link add svl0c3da3n1 type veth alias svclab:t:node:n2 peer eth0 netns svclab-t-n2
		host: link set svl0c3da3n1 master svclab-f10c3da3
		host: link set svl0c3da3n1 up
		svclab-t-n2: link set lo up
		svclab-t-n2: sysctl net.ipv4.ip_forward=1
		svclab-t-n2: sysctl net.ipv4.conf.all.route_localnet=1
		svclab-t-n2: addr add 172.30.0.12/24 dev eth0
		svclab-t-n2: link set eth0 up
		svclab-t-n2: route add default via 172.30.0.1 dev eth0 proto 92
		svclab-t-n2: route add unreachable 10.244.1.0/24 proto 92
		svclab-t-n2: route add 10.244.0.0/24 via 172.30.0.11 dev eth0 proto 92
		svclab-t-n1: route add 10.244.1.0/24 via 172.30.0.12 dev eth0 proto 92
		host: route add 10.244.1.0/24 via 172.30.0.12 dev svclab-f10c3da3 proto 92 realm 8128`)
	afterN2 := k.Dump()

	pod, err := n2.AddPod(ctx, "0123456789")
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		netns add svclab-t-p-0123456789
		svclab-t-n2: link add svl0123456789 type veth alias svclab:t:pod:0123456789 peer eth0 netns svclab-t-p-0123456789
		svclab-t-p-0123456789: link set lo up
		svclab-t-p-0123456789: addr add 10.244.1.2/32 dev eth0
		svclab-t-p-0123456789: link set eth0 up
		svclab-t-p-0123456789: route add default via 169.254.1.1 dev eth0 proto 92 onlink
		svclab-t-n2: sysctl net.ipv4.conf.svl0123456789.proxy_arp=1
		svclab-t-n2: sysctl net.ipv4.neigh.svl0123456789.proxy_delay=0
		svclab-t-n2: link set svl0123456789 up
		svclab-t-n2: route add 10.244.1.2 dev svl0123456789 proto 92`)
	want := network.Pod{ID: "0123456789", Node: "n2", NetNS: "svclab-t-p-0123456789", NetNSPath: "/run/netns/svclab-t-p-0123456789", IP: pod.IP, NodeVeth: "svl0123456789"}
	if *pod != want || pod.IP.String() != "10.244.1.2" {
		t.Errorf("pod = %+v", pod)
	}
	if _, err := n2.AddPod(ctx, "0123456789"); !errors.Is(err, os.ErrExist) {
		t.Errorf("AddPod twice: %v, want an error wrapping os.ErrExist", err)
	}
	k.ResetCalls()
	if pods, err := n2.Pods(); err != nil || len(pods) != 1 || pods[0] != want {
		t.Errorf("Pods() = %+v, %v", pods, err)
	}

	if err := n2.RemovePod(ctx, "0123456789"); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		svclab-t-n2: link del svl0123456789
		netns del svclab-t-p-0123456789`)
	if got := k.Dump(); got != afterN2 {
		t.Errorf("after RemovePod:\n%s\nwant the state before AddPod:\n%s", got, afterN2)
	}
	if err := n2.RemovePod(ctx, "0123456789"); err != nil {
		t.Errorf("RemovePod twice: %v", err)
	}
	k.ResetCalls()

	if err := n.RemoveNode(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		svclab-t-n1: route del 10.244.1.0/24 via 172.30.0.12 dev eth0 proto 92
		host: route del 10.244.1.0/24 via 172.30.0.12 dev svclab-f10c3da3 proto 92 realm 8128
		host: link del svl0c3da3n1
		netns del svclab-t-n2`)
	if got := k.Dump(); got != afterN1 {
		t.Errorf("after RemoveNode:\n%s\nwant the state before AddNode:\n%s", got, afterN1)
	}
	if err := n.RemoveNode(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if got := k.Dump(); got != afterSetup {
		t.Errorf("after removing every node:\n%s\nwant:\n%s", got, afterSetup)
	}
	if err := n.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := k.Dump(); got != initial {
		t.Errorf("after Teardown:\n%s\nwant:\n%s", got, initial)
	}
	if _, err := os.Stat(filepath.Join(root, "t")); !os.IsNotExist(err) {
		t.Errorf("state directory left behind: %v", err)
	}
}

func TestAddNodeRollsBack(t *testing.T) {
	ctx := context.Background()
	k := networktest.New()
	n := newTestNetwork(t, k, t.TempDir(), "t")
	if err := n.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddNode(ctx, "n1", 0); err != nil {
		t.Fatal(err)
	}
	before := k.Dump()
	k.FailOn("svclab-t-n1: route add 10.244.1.0/24", errors.New("boom"))
	_, err := n.AddNode(ctx, "n2", 1)
	if err == nil || !strings.Contains(err.Error(), "add node n2: fake: svclab-t-n1: route add 10.244.1.0/24 via 172.30.0.12 dev eth0 proto 92: boom") {
		t.Fatalf("AddNode = %v", err)
	}
	if got := k.Dump(); got != before {
		t.Errorf("after a failed AddNode:\n%s\nwant:\n%s", got, before)
	}
	if n.Node("n2") != nil {
		t.Error("failed node is still known")
	}
	// The index and name are free again.
	if _, err := n.AddNode(ctx, "n2", 1); err != nil {
		t.Fatalf("AddNode after rollback: %v", err)
	}
	if _, err := n.AddNode(ctx, "n3", 1); !errors.Is(err, os.ErrExist) {
		t.Errorf("AddNode with a used index: %v", err)
	}
}

func TestAddPodRollsBack(t *testing.T) {
	ctx := context.Background()
	k := networktest.New()
	n := newTestNetwork(t, k, t.TempDir(), "t")
	if err := n.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	node, err := n.AddNode(ctx, "n1", 0)
	if err != nil {
		t.Fatal(err)
	}
	before := k.Dump()
	k.FailOn("proxy_arp", errors.New("boom"))
	if _, err := node.AddPod(ctx, "abc"); err == nil {
		t.Fatal("AddPod succeeded despite the failure")
	}
	if got := k.Dump(); got != before {
		t.Errorf("after a failed AddPod:\n%s\nwant:\n%s", got, before)
	}
	if pods, _ := node.Pods(); len(pods) != 0 {
		t.Errorf("failed pod kept its address: %+v", pods)
	}
	p, err := node.AddPod(ctx, "abc")
	if err != nil || p.IP.String() != "10.244.0.2" {
		t.Errorf("AddPod after rollback = %+v, %v", p, err)
	}
}

// TestTeardownAfterCrash builds a lab, forgets every in-memory object and tears it down from
// the kernel state and state files alone, next to another lab whose name shares a prefix.
func TestTeardownAfterCrash(t *testing.T) {
	ctx := context.Background()
	k := networktest.New()
	root := t.TempDir()
	initial := k.Dump()

	// A second lab with separate ranges, whose namespaces start with "svclab-a-".
	p := network.DefaultPlan("a-b")
	p.NodeCIDR = mustPrefix("172.31.0.0/24")
	p.PodCIDR = mustPrefix("10.245.0.0/16")
	p.ServiceCIDR = mustPrefix("10.97.0.0/16")
	p.LBCIDR = mustPrefix("172.31.1.0/24")
	other, err := network.New(p, network.WithKernel(k), network.WithStateRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	on, err := other.AddNode(ctx, "n1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := on.AddPod(ctx, "ffff"); err != nil {
		t.Fatal(err)
	}
	otherOnly := k.Dump()

	func() {
		n := newTestNetwork(t, k, root, "a")
		if err := n.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"n1", "n2"} {
			node, err := n.AddNode(ctx, name, i)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"1" + name, "2" + name} {
				if _, err := node.AddPod(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
		}
	}()
	// A pod namespace left half-made by a crash (no veth yet).
	if err := k.CreateNetNS("svclab-a-p-dead"); err != nil {
		t.Fatal(err)
	}
	if err := network.Teardown(ctx, "a", network.WithKernel(k), network.WithStateRoot(root)); err != nil {
		t.Fatal(err)
	}
	if got := k.Dump(); got != otherOnly {
		t.Errorf("after Teardown(a):\n%s\nwant lab a-b untouched:\n%s", got, otherOnly)
	}
	if err := network.Teardown(ctx, "a", network.WithKernel(k), network.WithStateRoot(root)); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if err := network.Teardown(ctx, "a-b", network.WithKernel(k), network.WithStateRoot(root)); err != nil {
		t.Fatal(err)
	}
	if got := k.Dump(); got != initial {
		t.Errorf("after Teardown(a-b):\n%s\nwant:\n%s", got, initial)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("state left in %s: %v", root, entries)
	}
}
