package cli

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/privtest"
)

// Address plan: the lab is named svcli<r> and uses 172.30.<r>.0/24 for nodes,
// 10.<100+r%50>.0.0/16 for pods and 10.<50+r%50>.0.0/16 for services, apart from the
// defaults and from the lab package's tests (172.31.x, 10.200+, 10.150+).

type labCLI struct {
	t    *testing.T
	bin  string
	name string
	up   []string
}

func newLab(t *testing.T) *labCLI {
	r := rand.IntN(200) + 20
	name := fmt.Sprintf("svcli%d", r)
	return &labCLI{t: t, bin: privtest.Binary(t), name: name, up: []string{"up", "--name", name, "--nodes", "2",
		"--runtime", "process",
		"--node-cidr", fmt.Sprintf("172.30.%d.0/24", r),
		"--pod-network-cidr", fmt.Sprintf("10.%d.0.0/16", 100+r%50),
		"--service-cluster-ip-range", fmt.Sprintf("10.%d.0.0/16", 50+r%50),
		"--lb-cidr", fmt.Sprintf("172.30.%d.0/24", (r+100)%250),
		"--api-port", "0", "--web", "127.0.0.1:0",
	}}
}

// run runs svclab with args and returns its combined output.
func (l *labCLI) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (l *labCLI) must(args ...string) string {
	l.t.Helper()
	out, err := l.run(args...)
	if err != nil {
		l.t.Fatalf("svclab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (l *labCLI) pid() int {
	data, err := os.ReadFile(filepath.Join("/run/svclab", l.name, "pid"))
	if err != nil {
		l.t.Fatalf("read the lab's pid file: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func (l *labCLI) downAndCompare(before, when string) {
	l.t.Helper()
	l.must("down", "--name", l.name)
	// Idempotent: a second down changes nothing and succeeds.
	l.must("down", "--name", l.name)
	if after := privtest.HostSnapshot(l.t); after != before {
		l.t.Errorf("the host changed (%s, then svclab down):\n%s", when, privtest.Diff(before, after))
	}
}

// TestPrivilegedCLILifecycle: up --detach, the learner's commands, kill -9 in steady state
// and during up, each followed by svclab down, which must leave the host as it was.
func TestPrivilegedCLILifecycle(t *testing.T) {
	privtest.Require(t, "ip", "iptables-restore", "kubectl")
	l := newLab(t)
	t.Cleanup(func() { _, _ = l.run("down", "--name", l.name) })
	before := privtest.HostSnapshot(t)

	out := l.must(append(l.up, "--detach")...)
	for _, want := range []string{"in the background", "Kubeconfig:", l.name + "-control-plane", "Ready", "svclab down --name " + l.name} {
		if !strings.Contains(out, want) {
			t.Errorf("up --detach output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join("/run/svclab", l.name, "log")); err != nil {
		t.Errorf("no log file of the detached lab: %v", err)
	}

	t.Run("second up refused", func(t *testing.T) {
		out, err := l.run(append(l.up, "--detach")...)
		if err == nil || !strings.Contains(out, "already running") {
			t.Errorf("a second up of the same lab: err=%v\n%s", err, out)
		}
	})
	t.Run("status", func(t *testing.T) {
		out := l.must("status", "--name", l.name)
		for _, want := range []string{"running", "Runtime: process", l.name + "-worker", "Ready", "Web UI: http://127.0.0.1:"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("kubeconfig and kubectl", func(t *testing.T) {
		kc := l.must("kubeconfig", "--name", l.name)
		if !strings.Contains(kc, "certificate-authority-data") || !strings.Contains(kc, "svclab-"+l.name) {
			t.Errorf("kubeconfig:\n%s", kc)
		}
		out := l.must("kubectl", "--name", l.name, "get", "nodes", "-o", "wide")
		for _, want := range []string{"control-plane", l.name + "-worker", "Ready", "172.30."} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl get nodes -o wide lacks %q:\n%s", want, out)
			}
		}
		out = l.must("kubectl", "--name", l.name, "-n", "kube-system", "get", "pods")
		if !strings.Contains(out, "kube-proxy-") {
			t.Errorf("no kube-proxy pods in kube-system:\n%s", out)
		}
	})
	t.Run("node exec", func(t *testing.T) {
		out := l.must("node", "exec", "--name", l.name, l.name+"-worker", "--", "ip", "-4", "addr", "show")
		if !strings.Contains(out, "172.30.") {
			t.Errorf("ip addr inside the node:\n%s", out)
		}
		if _, err := l.run("node", "exec", "--name", l.name, "no-such-node", "--", "true"); err == nil {
			t.Error("node exec on an unknown node succeeded")
		}
	})

	// kill -9 in steady state, then down.
	if err := syscall.Kill(l.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l.downAndCompare(before, "kill -9 in steady state")

	// kill -9 during up: wait until up has made its first node, then kill it.
	cmd := exec.Command(l.bin, l.up...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nsPrefix := "svclab-" + l.name + "-"
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := exec.Command("ip", "netns", "list").Output()
		if strings.Contains(string(out), nsPrefix) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	// up after the crash cleans the remains first and works.
	out = l.must(append(l.up, "--detach")...)
	if !strings.Contains(out, "Kubeconfig:") {
		t.Errorf("up after a crash:\n%s", out)
	}
	if err := syscall.Kill(l.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l.downAndCompare(before, "kill -9 during up, up again, kill -9")

	// kill -9 during up, then down straight away.
	cmd = exec.Command(l.bin, l.up...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	l.downAndCompare(before, "kill -9 during up")
}

// TestPrivilegedCLIRefusals: bad input changes nothing.
func TestPrivilegedCLIRefusals(t *testing.T) {
	privtest.Require(t, "ip")
	l := newLab(t)
	before := privtest.HostSnapshot(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pod-network-cidr", "not-a-cidr"}, "--pod-network-cidr"},
		{[]string{"--proxy-mode", "bogus"}, "--proxy-mode"},
		{[]string{"--runtime", "bogus"}, "--runtime"},
		{[]string{"--nodes", "0"}, "--nodes"},
	} {
		out, err := l.run(append(append([]string{}, l.up...), tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("up %v: err=%v, want a message naming %s:\n%s", tc.args, err, tc.want, out)
		}
	}
	// A node range overlapping a host route is refused, naming the route and the flag.
	routes, _ := exec.Command("ip", "-4", "route", "show", "scope", "link").Output()
	for _, line := range strings.Split(string(routes), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.Contains(f[0], "/") || strings.HasPrefix(f[0], "172.30.") || strings.HasPrefix(f[0], "172.31.") {
			continue
		}
		args := append(append([]string{}, l.up...), "--node-cidr", f[0])
		out, err := l.run(args...)
		if err == nil || !strings.Contains(out, "--node-cidr") {
			t.Errorf("up --node-cidr %s (a host route): err=%v\n%s", f[0], err, out)
		}
		break
	}
	if after := privtest.HostSnapshot(t); after != before {
		t.Errorf("refused runs changed the host:\n%s", privtest.Diff(before, after))
	}
}
