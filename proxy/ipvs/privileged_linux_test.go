package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/ipt/ipttest"
	"github.com/svclab/svclab/proxy/ipvs/ipvstest"
	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/proxytest/netnstest"
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

// countAnswers connects n times from ns to addr and counts what the servers wrote.
func countAnswers(t *testing.T, ns *netnstest.NS, addr string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		got, err := netnstest.Get(context.Background(), ns, "tcp4", addr, 2*time.Second)
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
	node := netnstest.NewNS(t, "ipvs")
	for i, name := range []string{"ep1", "ep2"} {
		ep := netnstest.NewNS(t, "ipvs")
		netnstest.Veth(t, netnstest.End{NS: node, Dev: fmt.Sprintf("ve%d", i+1), Addrs: []string{fmt.Sprintf("10.180.%d.254/24", i+1)}},
			netnstest.End{NS: ep, Dev: "eth0", Addrs: []string{fmt.Sprintf("10.180.%d.1/24", i+1)}})
		ep.DefaultVia(t, fmt.Sprintf("10.180.%d.254", i+1))
		ep.ServeTCP(t, "tcp4", ":8080", netnstest.Text(name))
	}
	nodeNL := node.Netlink()

	if err := node.Run(func() error { return SetSysctls("/proc/sys") }); err != nil {
		t.Fatal(err)
	}
	ipvsHandle, err := mobyipvs.New("/run/netns/" + node.Name)
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
		prefix := node.Prefix()
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
