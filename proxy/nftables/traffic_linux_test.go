package nftables

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/privtest"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// TestPrivilegedNFTablesTraffic sends real TCP connections to a ClusterIP: a "node"
// namespace holding the rules, joined by a veth pair to a "pod" namespace serving on the
// endpoint address. It also checks that a Service without endpoints is refused at once.
func TestPrivilegedNFTablesTraffic(t *testing.T) {
	privtest.Require(t, "ip", "nft")
	id := rand.Uint32()
	nodeNS, podNS := fmt.Sprintf("svclabt-nftables-n%08x", id), fmt.Sprintf("svclabt-nftables-p%08x", id)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	for _, ns := range []string{nodeNS, podNS} {
		run("ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	run("ip", "-n", nodeNS, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", podNS)
	run("ip", "-n", nodeNS, "link", "set", "lo", "up")
	run("ip", "-n", podNS, "link", "set", "lo", "up")
	run("ip", "-n", nodeNS, "addr", "add", "10.180.0.254/24", "dev", "veth0")
	run("ip", "-n", podNS, "addr", "add", "10.180.0.1/24", "dev", "eth0")
	run("ip", "-n", nodeNS, "link", "set", "veth0", "up")
	run("ip", "-n", podNS, "link", "set", "eth0", "up")
	// The ClusterIP needs a route for the first routing decision, before DNAT.
	run("ip", "-n", nodeNS, "route", "add", "172.30.0.0/16", "dev", "veth0")

	ln := listenIn(t, podNS, "10.180.0.1:80")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "10.180.0.1")
			_ = c.Close()
		}
	}()

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(nodeNS)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}()

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

	// Dial from this goroutine: its sockets are created in the node namespace.
	d := net.Dialer{Timeout: 2 * time.Second}
	for i := 0; i < 5; i++ {
		c, err := d.Dial("tcp", "172.30.0.41:80")
		if err != nil {
			t.Fatalf("connect to the ClusterIP: %v", err)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		_ = c.Close()
		if err != nil || string(b) != "10.180.0.1" {
			t.Fatalf("read from the ClusterIP: %q, %v", b, err)
		}
	}
	start := time.Now()
	if c, err := d.Dial("tcp", "172.30.0.46:80"); err == nil {
		_ = c.Close()
		t.Error("connected to a Service without endpoints")
	} else if time.Since(start) > time.Second {
		t.Errorf("Service without endpoints timed out instead of being refused: %v", err)
	}
}

// listenIn opens a TCP listener in network namespace ns.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			ch <- result{err: err}
			return
		}
		ln, err := net.Listen("tcp", addr)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns, r.err)
	}
	t.Cleanup(func() { _ = r.ln.Close() })
	return r.ln
}
