package network_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
)

// Privileged tests build their own lab with a unique name (svclabt-<random>) and ranges away
// from the lab defaults: nodes 172.31.<r>.0/24, pods 10.<r>.0.0/16, services 10.<r'>.0.0/16,
// re-drawn until they overlap no host route. Traffic goes only to addresses inside the
// namespaces they create, one bounded connection per check. Run privileged packages one at a
// time (go test -p 1): the residue check compares host-wide snapshots.

// testPlan returns a plan for a fresh test lab that overlaps no route on this host.
func testPlan(t testing.TB) network.Plan {
	t.Helper()
	for range 20 {
		lab := fmt.Sprintf("svclabt-%06x", rand.Uint32()&0xffffff)
		pod := 200 + rand.IntN(50)
		svc := 150 + rand.IntN(50)
		p := network.Plan{
			Lab:         lab,
			Bridge:      network.BridgeName(lab),
			NodeCIDR:    netip.MustParsePrefix(fmt.Sprintf("172.31.%d.0/24", rand.IntN(256))),
			PodCIDR:     netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", pod)),
			ServiceCIDR: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", svc)),
		}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		routes, err := network.HostRoutes(network.NewKernel(t.TempDir()), p)
		if err != nil {
			t.Fatalf("HostRoutes: %v", err)
		}
		if network.CheckHostOverlap(p, routes) == nil {
			return p
		}
	}
	t.Fatal("no free test ranges on this host")
	return network.Plan{}
}

// hostSnapshot is what must be identical before a lab is built and after it is torn down.
func hostSnapshot(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"netns"}, {"-d", "link"}, {"route", "show", "table", "all"}, {"rule"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		fmt.Fprintf(&b, "## ip %s\n%s", strings.Join(args, " "), out)
	}
	b.WriteString("## mounts under " + network.NetNSDir + "\n")
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], network.NetNSDir) {
			b.WriteString(fields[4] + " " + strings.Join(fields[5:], " ") + "\n")
		}
	}
	if _, err := os.Stat(network.NetNSDir); err == nil {
		b.WriteString(network.NetNSDir + " exists\n")
	}
	return b.String()
}

// serve answers every TCP connection to addr inside the namespace with "hello from <name>".
func serve(t *testing.T, nsPath, addr, name string) {
	t.Helper()
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
			c.SetDeadline(time.Now().Add(2 * time.Second))
			fmt.Fprintf(c, "hello from %s", name)
			c.Close()
		}
	}()
}

// probe connects once from a namespace ("" is the host) and returns the greeting.
func probe(nsPath, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var c net.Conn
	var err error
	if nsPath == "" {
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	} else {
		c, err = network.DialInNamespace(ctx, nsPath, "tcp", addr)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// labNetwork is what buildLab made.
type labNetwork struct {
	net   *network.Network
	nodes []*network.Node
	pods  [][]*network.Pod // per node
}

func buildLab(t *testing.T, plan network.Plan, root string) *labNetwork {
	ctx := context.Background()
	n, err := network.New(plan, network.WithStateRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.CheckHost(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := n.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Setup: %v", time.Since(start))
	lab := &labNetwork{net: n}
	for i, name := range []string{"n1", "n2"} {
		start := time.Now()
		node, err := n.AddNode(ctx, name, i)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("AddNode(%s): %v", name, time.Since(start))
		lab.nodes = append(lab.nodes, node)
		var pods []*network.Pod
		for j := range 2 {
			start := time.Now()
			pod, err := node.AddPod(ctx, fmt.Sprintf("%x%d%d", rand.Uint32()&0xffffff, i, j))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("AddPod(%s on %s): %v", pod.ID, name, time.Since(start))
			pods = append(pods, pod)
		}
		lab.pods = append(lab.pods, pods)
	}
	return lab
}

func TestPrivilegedTwoNodeNetwork(t *testing.T) {
	privtest.Require(t, "ip")
	before := hostSnapshot(t)
	plan := testPlan(t)
	root := t.TempDir()
	t.Cleanup(func() { network.Teardown(context.Background(), plan.Lab, network.WithStateRoot(root)) })
	lab := buildLab(t, plan, root)

	// The host check ignores the lab's own routes but names them to another lab.
	if err := lab.net.CheckHost(); err != nil {
		t.Errorf("CheckHost() after Setup = %v, want nil: the lab's own routes must not count", err)
	}
	rival := plan
	rival.Lab, rival.Bridge = plan.Lab+"-rival", network.BridgeName(plan.Lab+"-rival")
	routes, err := network.HostRoutes(network.NewKernel(root), rival)
	if err != nil {
		t.Fatal(err)
	}
	err = network.CheckHostOverlap(rival, routes)
	for _, want := range []string{
		fmt.Sprintf(`node network %s overlaps the host route "%s dev %s proto kernel scope link": choose another range with --node-cidr`, plan.NodeCIDR, plan.NodeCIDR, plan.Bridge),
		fmt.Sprintf(`service network %s overlaps the host route "unreachable %s proto 92 realm `, plan.ServiceCIDR, plan.ServiceCIDR),
		`choose another range with --pod-network-cidr`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckHostOverlap for a second lab on the same ranges = %v\nwant it to contain %q", err, want)
		}
	}

	n1, n2 := lab.nodes[0], lab.nodes[1]
	p1a, p1b, p2a, p2b := lab.pods[0][0], lab.pods[0][1], lab.pods[1][0], lab.pods[1][1]
	for _, p := range []*network.Pod{p1a, p1b, p2a, p2b} {
		serve(t, p.NetNSPath, netip.AddrPortFrom(p.IP, 8080).String(), "pod "+p.ID)
	}
	for _, n := range lab.nodes {
		serve(t, n.NetNSPath, netip.AddrPortFrom(n.IP, 8080).String(), "node "+n.Name)
	}
	at := func(ip netip.Addr) string { return netip.AddrPortFrom(ip, 8080).String() }
	checks := []struct {
		name, from, to, want string
	}{
		{"pod to pod, same node", p1a.NetNSPath, at(p1b.IP), "pod " + p1b.ID},
		{"pod to pod, across nodes", p1a.NetNSPath, at(p2a.IP), "pod " + p2a.ID},
		{"pod to pod, across nodes, back", p2b.NetNSPath, at(p1b.IP), "pod " + p1b.ID},
		{"pod to its own IP", p2a.NetNSPath, at(p2a.IP), "pod " + p2a.ID},
		{"pod to its node", p1a.NetNSPath, at(n1.IP), "node n1"},
		{"pod to the other node", p1a.NetNSPath, at(n2.IP), "node n2"},
		{"node to its pod", n1.NetNSPath, at(p1a.IP), "pod " + p1a.ID},
		{"node to another node's pod", n1.NetNSPath, at(p2b.IP), "pod " + p2b.ID},
		{"node to node", n2.NetNSPath, at(n1.IP), "node n1"},
		{"host to NodeIP", "", at(n1.IP), "node n1"},
		{"host to NodeIP 2", "", at(n2.IP), "node n2"},
		{"host to pod", "", at(p1a.IP), "pod " + p1a.ID},
		{"host to pod on node 2", "", at(p2b.IP), "pod " + p2b.ID},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			got, err := probe(c.from, c.to)
			if err != nil || got != "hello from "+c.want {
				t.Fatalf("connect to %s: %q, %v; want %q", c.to, got, err, "hello from "+c.want)
			}
			t.Logf("%s: %v", c.to, time.Since(start))
		})
	}

	// Service and unused pod addresses fail on the host without leaving it (a route lookup
	// only, no packet is sent).
	unusedPod := plan.PodCIDR.Addr().As4()
	unusedPod[2], unusedPod[3] = 77, 3 // no node has index 77
	for _, ip := range []string{plan.ServiceCIDR.Addr().Next().String(), netip.AddrFrom4(unusedPod).String()} {
		out, err := exec.Command("ip", "route", "get", ip).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "No route to host") {
			t.Errorf("ip route get %s = %q, %v; want No route to host (unreachable route)", ip, out, err)
		}
	}

	// Removing a pod removes its namespace and address.
	if err := n2.RemovePod(context.Background(), p2b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p2b.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("pod namespace %s still there: %v", p2b.NetNSPath, err)
	}
	if pods, _ := n2.Pods(); len(pods) != 1 {
		t.Errorf("node 2 pods after RemovePod: %+v", pods)
	}

	start := time.Now()
	if err := lab.net.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("Teardown: %v", time.Since(start))
	if after := hostSnapshot(t); after != before {
		t.Errorf("host changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestPrivilegedTeardownAfterKill builds a lab in a child process that is killed with SIGKILL
// (after building, or at a random moment while building), and tears it down from this
// process, which never held the lab's objects; the host must be as it was.
func TestPrivilegedTeardownAfterKill(t *testing.T) {
	if os.Getenv("SVCLAB_NETWORK_CRASH_CHILD") != "" {
		return // only the helper runs in the child
	}
	privtest.Require(t, "ip")
	for _, tc := range []struct {
		name  string
		delay time.Duration // -1: the child kills itself when done
	}{
		{"after build", -1},
		{"while building 1", time.Duration(rand.IntN(5)) * time.Millisecond},
		{"while building 2", time.Duration(5+rand.IntN(10)) * time.Millisecond},
		{"while building 3", time.Duration(15+rand.IntN(20)) * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hostSnapshot(t)
			plan := testPlan(t)
			root := t.TempDir()
			t.Cleanup(func() { network.Teardown(context.Background(), plan.Lab, network.WithStateRoot(root)) })

			mode := "self"
			if tc.delay >= 0 {
				mode = "wait"
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
			cmd.Env = append(os.Environ(), "SVCLAB_NETWORK_CRASH_CHILD="+plan.Lab, "SVCLAB_NETWORK_CRASH_ROOT="+root,
				"SVCLAB_NETWORK_CRASH_MODE="+mode,
				"SVCLAB_NETWORK_CRASH_PLAN="+strings.Join([]string{plan.NodeCIDR.String(), plan.PodCIDR.String(), plan.ServiceCIDR.String()}, ","))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if mode == "wait" {
				if line != "building\n" {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("child said %q", line)
				}
				time.Sleep(tc.delay)
				cmd.Process.Signal(syscall.SIGKILL)
			}
			go io.Copy(io.Discard, stdout)
			cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die of SIGKILL: %v", cmd.ProcessState)
			}
			left, _ := filepath.Glob(filepath.Join(network.NetNSDir, "svclab-"+plan.Lab+"-*"))
			t.Logf("killed after %v with %d namespaces made", tc.delay, len(left))
			if mode == "self" && len(left) != 6 {
				t.Fatalf("the child built %d namespaces, want 6", len(left))
			}
			if err := network.Teardown(context.Background(), plan.Lab, network.WithStateRoot(root)); err != nil {
				t.Fatal(err)
			}
			if after := hostSnapshot(t); after != before {
				t.Errorf("host changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if err := network.Teardown(context.Background(), plan.Lab, network.WithStateRoot(root)); err != nil {
				t.Errorf("second Teardown: %v", err)
			}
		})
	}
}

// TestCrashChild is the child of TestPrivilegedTeardownAfterKill; it does nothing otherwise.
func TestCrashChild(t *testing.T) {
	lab := os.Getenv("SVCLAB_NETWORK_CRASH_CHILD")
	if lab == "" {
		t.Skip("helper process for TestPrivilegedTeardownAfterKill")
	}
	ranges := strings.Split(os.Getenv("SVCLAB_NETWORK_CRASH_PLAN"), ",")
	plan := network.Plan{Lab: lab, Bridge: network.BridgeName(lab), NodeCIDR: netip.MustParsePrefix(ranges[0]),
		PodCIDR: netip.MustParsePrefix(ranges[1]), ServiceCIDR: netip.MustParsePrefix(ranges[2])}
	fmt.Println("building")
	buildLab(t, plan, os.Getenv("SVCLAB_NETWORK_CRASH_ROOT"))
	if os.Getenv("SVCLAB_NETWORK_CRASH_MODE") == "self" {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	time.Sleep(10 * time.Second) // the parent kills us; bounded in case it does not
}

// TestPrivilegedRunInNamespace checks that RunInNamespace runs fn inside the namespace and
// leaves no thread of the process in it.
func TestPrivilegedRunInNamespace(t *testing.T) {
	privtest.Require(t, "ip")
	plan := testPlan(t)
	root := t.TempDir()
	t.Cleanup(func() { network.Teardown(context.Background(), plan.Lab, network.WithStateRoot(root)) })
	n, err := network.New(plan, network.WithStateRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	node, err := n.AddNode(context.Background(), "n1", 0)
	if err != nil {
		t.Fatal(err)
	}
	hostNS, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		ns  string
		err error
	}
	results := make(chan result, 50)
	for range 50 {
		go func() {
			var r result
			r.err = network.RunInNamespace(node.NetNSPath, func() error {
				var err error
				r.ns, err = os.Readlink("/proc/thread-self/ns/net")
				return err
			})
			results <- r
		}()
	}
	for range 50 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.ns == hostNS {
			t.Fatalf("fn ran in the host namespace %s", r.ns)
		}
	}
	// Every thread of the process is back in the host namespace.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		ns, err := os.Readlink(filepath.Join("/proc/self/task", task.Name(), "ns/net"))
		if err == nil && ns != hostNS {
			t.Errorf("thread %s is in %s, not the host namespace %s", task.Name(), ns, hostNS)
		}
	}
	if err := network.RunInNamespace("/run/netns/does-not-exist", func() error { return nil }); err == nil {
		t.Error("RunInNamespace on a missing namespace succeeded")
	}
}

// BenchmarkPrivilegedAddPod measures AddPod plus RemovePod on a one-node lab.
func BenchmarkPrivilegedAddPod(b *testing.B) {
	privtest.Require(b, "ip")
	plan := testPlan(b)
	root := b.TempDir()
	ctx := context.Background()
	n, err := network.New(plan, network.WithStateRoot(root))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { network.Teardown(ctx, plan.Lab, network.WithStateRoot(root)) })
	if err := n.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	node, err := n.AddNode(ctx, "n1", 0)
	if err != nil {
		b.Fatal(err)
	}
	var add, remove time.Duration
	n0 := 0
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("b%d", i)
		start := time.Now()
		if _, err := node.AddPod(ctx, id); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := node.RemovePod(ctx, id); err != nil {
			b.Fatal(err)
		}
		add, remove, n0 = add+mid.Sub(start), remove+time.Since(mid), n0+1
	}
	b.ReportMetric(float64(add.Microseconds())/float64(n0), "µs/AddPod")
	b.ReportMetric(float64(remove.Microseconds())/float64(n0), "µs/RemovePod")
}
