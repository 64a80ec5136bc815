package network_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/network/networktest"
)

func TestExternalSequence(t *testing.T) {
	ctx := context.Background()
	k := networktest.New()
	root := t.TempDir()
	initial := k.Dump()
	n := newTestNetwork(t, k, root, "t")
	if err := n.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddNode(ctx, "n1", 0); err != nil {
		t.Fatal(err)
	}
	k.ResetCalls()

	// Another process (`svclab external run`) opens the lab's network from its saved plan.
	o, err := network.Open("t", network.WithKernel(k), network.WithStateRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	x, err := o.AddExternal(ctx, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		netns add svclab-t-x-legacy
		host: link add svl0c3da3x200 type veth alias svclab:t:external:legacy peer eth0 netns svclab-t-x-legacy
		host: link set svl0c3da3x200 master svclab-f10c3da3
		host: link set svl0c3da3x200 up
		svclab-t-x-legacy: link set lo up
		svclab-t-x-legacy: addr add 172.30.0.200/24 dev eth0
		svclab-t-x-legacy: link set eth0 up
		svclab-t-x-legacy: route add default via 172.30.0.1 dev eth0 proto 92
		svclab-t-x-legacy: route add 10.244.0.0/24 via 172.30.0.11 dev eth0 proto 92`)
	if x.IP.String() != "172.30.0.200" || x.NetNSPath != "/run/netns/svclab-t-x-legacy" {
		t.Errorf("external = %+v", x)
	}

	if _, err := o.AddExternal(ctx, "legacy"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second AddExternal(legacy) = %v, want fs.ErrExist", err)
	}
	y, err := o.AddExternal(ctx, "db")
	if err != nil || y.IP.String() != "172.30.0.199" {
		t.Fatalf("AddExternal(db) = %+v, %v; want 172.30.0.199", y, err)
	}
	xs, err := o.Externals()
	if err != nil || len(xs) != 2 || xs[0].Name != "db" || xs[1].Name != "legacy" {
		t.Errorf("Externals() = %+v, %v", xs, err)
	}
	k.ResetCalls()
	if err := o.RemoveExternal(ctx, "legacy"); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, k, `
		host: link del svl0c3da3x200
		netns del svclab-t-x-legacy`)
	if err := o.RemoveExternal(ctx, "legacy"); err != nil {
		t.Errorf("removing it again: %v", err)
	}
	z, err := o.AddExternal(ctx, "again")
	if err != nil || z.IP.String() != "172.30.0.200" {
		t.Errorf("AddExternal(again) = %+v, %v; want the freed 172.30.0.200", z, err)
	}

	// Teardown finds the externals by tag and name, like the nodes.
	if err := network.Teardown(ctx, "t", network.WithKernel(k), network.WithStateRoot(root)); err != nil {
		t.Fatal(err)
	}
	if got := k.Dump(); got != initial {
		t.Errorf("after teardown:\n%s\nwant:\n%s", got, initial)
	}
}

func TestExternalRefusals(t *testing.T) {
	k := networktest.New()
	root := t.TempDir()
	if _, err := network.Open("nolab", network.WithKernel(k), network.WithStateRoot(root)); err == nil {
		t.Error("Open of a lab without a network: no error")
	}
	n := newTestNetwork(t, k, root, "t")
	if err := n.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddExternal(context.Background(), "Bad_Name"); err == nil {
		t.Error("AddExternal(Bad_Name): no error")
	}
	k.FailOn("addr add", errors.New("boom"))
	before := k.Dump()
	if _, err := n.AddExternal(context.Background(), "x"); err == nil {
		t.Fatal("AddExternal with a failing kernel: no error")
	}
	if got := k.Dump(); got != before {
		t.Errorf("a failed AddExternal left:\n%s\nwant:\n%s", got, before)
	}
	if xs, _ := n.Externals(); len(xs) != 0 {
		t.Errorf("a failed AddExternal is listed: %+v", xs)
	}
}
