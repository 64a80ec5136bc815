package ipvs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/ipt/ipttest"
	"github.com/svclab/svclab/proxy/ipvs/ipvstest"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// TestPrivilegedIPVS runs the real-kernel scenario natively where the kernel has IPVS
// (with the real ipset and iptables tools, in a test namespace).
func TestPrivilegedIPVS(t *testing.T) {
	privtest.Require(t, "ip", "ipset", "iptables")
	if err := CheckKernel(); errors.Is(err, ErrNoIPVS) {
		t.Skip("kernel has no IP Virtual Server support (CONFIG_IP_VS); TestPrivilegedIPVSQemu runs this scenario in a VM: " + err.Error())
	}
	runKernelScenario(t, true)
}

// TestPrivilegedIPVSInVM is the same scenario inside hack/ipvs-vm.sh's VM, which has IPVS
// but neither ipset nor iptables: those two stay fakes there (their payloads are tested
// natively and as golden files).
func TestPrivilegedIPVSInVM(t *testing.T) {
	if os.Getenv("SVCLAB_IN_VM") != "1" {
		t.Skip("runs inside the qemu VM of hack/ipvs-vm.sh (SVCLAB_IN_VM=1); TestPrivilegedIPVSQemu starts it")
	}
	runKernelScenario(t, false)
}

func randomName(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "svclabt-ipvs-" + hex.EncodeToString(b)
}

// inNS runs fn with the calling goroutine's thread in ns.
func inNS(t *testing.T, ns netns.NsHandle, fn func() error) error {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		return err
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic("cannot return to the original network namespace: " + err.Error())
		}
	}()
	return fn()
}

func newNamedNS(t *testing.T, name string) netns.NsHandle {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		panic("cannot return to the original network namespace: " + serr.Error())
	}
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return h
}

func nlHandle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func linkUp(t *testing.T, h *netlink.Handle, name string) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

func addAddr(t *testing.T, h *netlink.Handle, dev, cidr string) {
	t.Helper()
	l, err := h.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("add %s to %s: %v", cidr, dev, err)
	}
}

// serve answers every TCP connection on :8080 in ns with name.
func serve(t *testing.T, ns netns.NsHandle, name string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(t, ns, func() (err error) { ln, err = net.Listen("tcp4", ":8080"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, name)
			c.Close()
		}
	}()
}

// get connects from ns to addr and returns what the server wrote.
func get(t *testing.T, ns netns.NsHandle, addr string) (string, error) {
	t.Helper()
	var c net.Conn
	if err := inNS(t, ns, func() (err error) { c, err = net.DialTimeout("tcp4", addr, 2*time.Second); return err }); err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func countAnswers(t *testing.T, ns netns.NsHandle, addr string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		got, err := get(t, ns, addr)
		if err != nil {
			t.Fatalf("connect to %s: %v", addr, err)
		}
		seen[got]++
	}
	return seen
}

// runKernelScenario: a node namespace with two endpoint namespaces behind veths; a
// ClusterIP Service over both; real TCP traffic from the node.
func runKernelScenario(t *testing.T, realTables bool) {
	ctx := context.Background()
	base := randomName(t)
	nodeName, ep1Name, ep2Name := base, base+"-e1", base+"-e2"
	node := newNamedNS(t, nodeName)
	ep1 := newNamedNS(t, ep1Name)
	ep2 := newNamedNS(t, ep2Name)
	nodeNL := nlHandle(t, node)
	for i, ep := range []netns.NsHandle{ep1, ep2} {
		ve := fmt.Sprintf("ve%d", i+1)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ve}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ep)}
		if err := nodeNL.LinkAdd(veth); err != nil {
			t.Fatalf("create veth %s: %v", ve, err)
		}
		addAddr(t, nodeNL, ve, fmt.Sprintf("10.180.%d.254/24", i+1))
		linkUp(t, nodeNL, ve)
		epNL := nlHandle(t, ep)
		linkUp(t, epNL, "lo")
		addAddr(t, epNL, "eth0", fmt.Sprintf("10.180.%d.1/24", i+1))
		linkUp(t, epNL, "eth0")
		gw := net.ParseIP(fmt.Sprintf("10.180.%d.254", i+1))
		if err := epNL.RouteAdd(&netlink.Route{Gw: gw}); err != nil {
			t.Fatalf("default route in endpoint namespace: %v", err)
		}
	}
	linkUp(t, nodeNL, "lo")
	serve(t, ep1, "ep1")
	serve(t, ep2, "ep2")

	if err := inNS(t, node, func() error { return SetSysctls("/proc/sys") }); err != nil {
		t.Fatal(err)
	}
	ipvsHandle, err := mobyipvs.New("/run/netns/" + nodeName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ipvsHandle.Close)
	nl, err := NewNetlink(nodeNL)
	if err != nil {
		t.Fatal(err)
	}
	h := Handles{IPVS: ipvsHandle, Netlink: nl}
	if realTables {
		prefix := []string{"ip", "netns", "exec", nodeName}
		h.IPSet, h.IPTables = &IPSetExec{Prefix: prefix}, &ipt.Exec{Prefix: prefix}
	} else {
		h.IPSet, h.IPTables = ipvstest.NewIPSet(), ipttest.New()
	}
	cfg := proxy.Config{
		NodeName:      "node1",
		NodeIPs:       []netip.Addr{netip.MustParseAddr("10.180.1.254")},
		ClusterCIDR:   netip.MustParsePrefix("10.180.0.0/16"),
		MasqueradeBit: proxy.DefaultMasqueradeBit,
	}
	p, err := New(cfg, Options{}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Cleanup(context.Background()) })

	tr := proxy.NewTracker("node1", nil)
	svc := func(mut ...func(*corev1.Service)) *corev1.Service {
		return pt.Service("ns1", "web", "172.30.0.41", append([]func(*corev1.Service){pt.Port("http", 80, corev1.ProtocolTCP)}, mut...)...)
	}
	both := pt.Slice("ns1", "web", "http", 8080, corev1.ProtocolTCP, pt.EP{IP: "10.180.1.1", Node: "node1"}, pt.EP{IP: "10.180.2.1", Node: "node2"})
	pt.Feed(tr, svc(), both)
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}

	// The kernel now has the virtual server with both real servers.
	table, err := ReadTable(ctx, ipvsHandle, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, vs := range table.VirtualServers {
		for _, rs := range vs.RealServers {
			got = append(got, fmt.Sprintf("%s %s %s -> %s w=%d masq=%v", vs.Protocol, vs.Address, vs.Scheduler, rs.Address, rs.Weight, rs.Masq))
		}
	}
	want := []string{
		"TCP 172.30.0.41:80 rr -> 10.180.1.1:8080 w=1 masq=true",
		"TCP 172.30.0.41:80 rr -> 10.180.2.1:8080 w=1 masq=true",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("IPVS table after sync:\n%s\nwant real servers %q", table, want)
	}
	addrs, err := nl.Addresses(ctx, DummyDevice)
	if err != nil || !slices.Contains(addrs, netip.MustParseAddr("172.30.0.41")) {
		t.Fatalf("%s addresses = %v, %v; want 172.30.0.41", DummyDevice, addrs, err)
	}

	// Round robin: both endpoints answer.
	const vip = "172.30.0.41:80"
	seen := countAnswers(t, node, vip, 10)
	if seen["ep1"] < 3 || seen["ep2"] < 3 {
		t.Errorf("round robin over 10 connections = %v, want both endpoints several times", seen)
	}

	// ClientIP affinity: persistence keeps the node on one endpoint.
	pt.Feed(tr, svc(pt.Affinity(60)))
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	if table, _ = ReadTable(ctx, ipvsHandle, nil); !strings.Contains(table.String(), "172.30.0.41:80 rr persistent 60") {
		t.Errorf("affinity did not make the virtual server persistent:\n%s", table)
	}
	if seen = countAnswers(t, node, vip, 10); len(seen) != 1 {
		t.Errorf("with affinity 10 connections reached %v, want one endpoint", seen)
	}

	// An update removes ep2: it is gone (or quiesced at weight 0 while its old
	// connections expire) and gets no new connections.
	pt.Feed(tr, pt.Slice("ns1", "web", "http", 8080, corev1.ProtocolTCP, pt.EP{IP: "10.180.1.1", Node: "node1"}))
	if err := p.Sync(ctx, tr.Apply()); err != nil {
		t.Fatal(err)
	}
	table, _ = ReadTable(ctx, ipvsHandle, nil)
	for _, vs := range table.VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.Address.Addr() == netip.MustParseAddr("10.180.2.1") && rs.Weight != 0 {
				t.Errorf("removed endpoint still has weight %d:\n%s", rs.Weight, table)
			}
		}
	}
	if seen = countAnswers(t, node, vip, 6); seen["ep1"] != 6 {
		t.Errorf("after removing ep2, 6 connections reached %v, want only ep1", seen)
	}
	t.Logf("IPVS table after the update:\n%s", table)

	// Cleanup leaves nothing.
	if err := p.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if svcs, err := ipvsHandle.GetServices(); err != nil || len(svcs) != 0 {
		t.Errorf("after cleanup: %d virtual servers (err %v)", len(svcs), err)
	}
	if _, err := nodeNL.LinkByName(DummyDevice); err == nil {
		t.Errorf("%s still exists after cleanup", DummyDevice)
	}
	if realTables {
		out, _ := h.IPTables.Save(ctx, "")
		if strings.Contains(string(out), "KUBE-") {
			t.Errorf("iptables rules left after cleanup:\n%s", out)
		}
		sets, _ := h.IPSet.Save(ctx)
		if strings.Contains(string(sets), "KUBE-") {
			t.Errorf("ipsets left after cleanup:\n%s", sets)
		}
	}
}
