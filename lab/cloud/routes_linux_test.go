package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/cloud"
	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
)

// privPlan is a fresh test lab (svclabt-<random>) on 172.31.a.0/24 with its pool on
// 172.31.b.0/24, overlapping no host route.
func privPlan(t *testing.T) network.Plan {
	for range 20 {
		lab := fmt.Sprintf("svclabt-%06x", rand.Uint32()&0xffffff)
		a, b := rand.IntN(256), rand.IntN(256)
		if a == b {
			continue
		}
		p := network.Plan{
			Lab: lab, Bridge: network.BridgeName(lab),
			NodeCIDR:    netip.MustParsePrefix(fmt.Sprintf("172.31.%d.0/24", a)),
			PodCIDR:     netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 200+rand.IntN(50))),
			ServiceCIDR: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 150+rand.IntN(50))),
			LBCIDR:      netip.MustParsePrefix(fmt.Sprintf("172.31.%d.0/24", b)),
		}
		if p.Validate() != nil {
			continue
		}
		routes, err := network.HostRoutes(network.NewKernel(t.TempDir()), p)
		if err != nil {
			t.Fatal(err)
		}
		if network.CheckHostOverlap(p, routes) == nil {
			return p
		}
	}
	t.Fatal("no free test ranges on this host")
	return network.Plan{}
}

// answer serves "<name>" on every TCP connection to addr inside nsPath.
func answer(t *testing.T, nsPath, addr, name string) {
	l, err := network.ListenInNamespace(context.Background(), nsPath, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, name)
			c.Close()
		}
	}()
}

// ask connects once from the host to addr and returns the answer.
func ask(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func hostRoutesMentioning(t *testing.T, prefix string) string {
	out, err := exec.Command("ip", "route", "show", "table", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, prefix) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func TestPrivilegedHostRoutes(t *testing.T) {
	privtest.Require(t, "ip")
	ctx := context.Background()
	plan := privPlan(t)
	root := t.TempDir()
	t.Cleanup(func() { network.Teardown(ctx, plan.Lab, network.WithStateRoot(root)) })
	n, err := network.New(plan, network.WithStateRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	lb := netip.PrefixFrom(plan.LBCIDR.Addr().Next().Next(), 32)
	addr := net.JoinHostPort(lb.Addr().String(), "8080")
	var via []netip.Addr
	for i, name := range []string{"n1", "n2"} {
		node, err := n.AddNode(ctx, name, i)
		if err != nil {
			t.Fatal(err)
		}
		// Stand-in for kube-proxy: each node takes the LB address itself.
		if err := n.Kernel().AddAddr(node.NetNS, "lo", lb); err != nil {
			t.Fatal(err)
		}
		answer(t, node.NetNSPath, addr, name)
		via = append(via, node.IP)
	}

	routes, err := cloud.NewRoutes(plan.Lab, plan.LBCIDR)
	if err != nil {
		t.Fatal(err)
	}
	list := func() string {
		rs, err := routes.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.String())
		}
		slices.Sort(out)
		return strings.Join(out, "; ")
	}
	pool := cloud.Route{Dst: plan.LBCIDR}
	if err := routes.Replace(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(addr); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("unrouted LB address: %v, want EHOSTUNREACH (the pool is unreachable)", err)
	}

	both := cloud.Route{Dst: lb, Via: via}
	if err := routes.Replace(ctx, both); err != nil {
		t.Fatal(err)
	}
	if got, want := list(), both.String()+"; "+pool.String(); got != want {
		t.Errorf("List() = %s, want %s", got, want)
	}
	if got, err := ask(addr); err != nil || (got != "n1" && got != "n2") {
		t.Errorf("via both nodes: %q, %v", got, err)
	}
	one := cloud.Route{Dst: lb, Via: via[1:]}
	if err := routes.Replace(ctx, one); err != nil {
		t.Fatal(err)
	}
	if got, err := ask(addr); err != nil || got != "n2" {
		t.Errorf("via n2 only: %q, %v; want n2", got, err)
	}
	if got, want := list(), one.String()+"; "+pool.String(); got != want {
		t.Errorf("List() = %s, want %s", got, want)
	}
	if err := routes.Replace(ctx, cloud.Route{Dst: netip.MustParsePrefix("203.0.113.1/32"), Via: via}); err == nil {
		t.Error("Replace outside the pool: no error")
	}
	if err := routes.Replace(ctx, both); err != nil {
		t.Fatal(err)
	}

	// `svclab down` removes the single-path and unreachable routes by tag and the multipath
	// ones with the bridge their next hops use.
	if err := network.Teardown(ctx, plan.Lab, network.WithStateRoot(root)); err != nil {
		t.Fatal(err)
	}
	lbNet := strings.TrimSuffix(plan.LBCIDR.Addr().String(), ".0") + "."
	if left := hostRoutesMentioning(t, lbNet); left != "" {
		t.Errorf("routes left after Teardown:\n%s", left)
	}
}
