package browser

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/privtest"
)

// Address plan: the lab is named svbrw<r> (r in 0..39) and uses 172.29.<r>.0/24 for nodes,
// 172.28.<r>.0/24 for load balancers, 10.<10+r%20>.0.0/16 for pods and 10.<30+r%20>.0.0/16
// for services: apart from the defaults, tests/cli (172.30.x, 10.50-10.149) and the lab
// package's tests (172.31.x, 10.150+, 10.200+).

// requireBrowserDeps skips (fails under SVCLAB_CI_PRIVILEGED=1) unless Chromium, Node.js and
// the npm packages of this folder are installed.
func requireBrowserDeps(t *testing.T) {
	t.Helper()
	privtest.Require(t, "ip", "iptables-restore", "kubectl", "node", "chromium")
	if _, err := os.Stat("node_modules/playwright-core/package.json"); err != nil {
		msg := "playwright-core is not installed: run `npm ci --prefix tests/browser` (make test does)"
		if os.Getenv("SVCLAB_CI_PRIVILEGED") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestPrivilegedBrowser starts a lab with the web UI and runs ui.spec.mjs against it in headless
// Chromium: login, an exercise from a failing to a passing Check, the live topology, a node's
// rules and a trace, the terminal. Screenshots go to $SVCLAB_ARTIFACTS (default ./artifacts).
func TestPrivilegedBrowser(t *testing.T) {
	requireBrowserDeps(t)
	bin := privtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	r := rand.IntN(40)
	name := fmt.Sprintf("svbrw%d", r)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := filepath.Join("/run/svclab", name)
	t.Cleanup(func() {
		if out, err := run(context.Background(), bin, "down", "--name", name); err != nil {
			t.Errorf("svclab down --name %s: %v\n%s", name, err, out)
		}
	})
	out, err := run(ctx, bin, "up", "--detach", "--name", name, "--nodes", "2", "--runtime", "process",
		"--node-cidr", fmt.Sprintf("172.29.%d.0/24", r),
		"--lb-cidr", fmt.Sprintf("172.28.%d.0/24", r),
		"--pod-network-cidr", fmt.Sprintf("10.%d.0.0/16", 10+r%20),
		"--service-cluster-ip-range", fmt.Sprintf("10.%d.0.0/16", 30+r%20),
		"--api-port", "0", "--web", addr)
	if err != nil {
		t.Fatalf("svclab up --web %s: %v\n%s", addr, err, out)
	}
	if !strings.Contains(out, addr) {
		t.Errorf("svclab up does not print the UI's address %s:\n%s", addr, out)
	}
	token := readToken(t, filepath.Join(dir, "web-token"))
	if !strings.Contains(out, token) {
		t.Errorf("svclab up does not print the access token (it is in %s/web-token):\n%s", dir, out)
	}

	artifacts := os.Getenv("SVCLAB_ARTIFACTS")
	if artifacts == "" {
		artifacts, _ = filepath.Abs("artifacts")
	}
	exercisesDir, _ := filepath.Abs("../../exercises")
	cmd := exec.CommandContext(ctx, "node", "ui.spec.mjs")
	cmd.Env = append(os.Environ(),
		"SVCLAB_URL=http://"+addr,
		"SVCLAB_TOKEN="+token,
		"SVCLAB_KUBECONFIG="+filepath.Join(dir, "kubeconfig"),
		"SVCLAB_NAME="+name,
		"SVCLAB_ARTIFACTS="+artifacts,
		"SVCLAB_EXERCISES_DIR="+exercisesDir,
		// Reference solutions may run `svclab ...`: this binary, for this lab.
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	var spec bytes.Buffer
	cmd.Stdout, cmd.Stderr = &spec, &spec
	start := time.Now()
	err = cmd.Run()
	if err == nil {
		t.Logf("node ui.spec.mjs (%.1fs):\n%s", time.Since(start).Seconds(), spec.String())
		return
	}
	// The first line is what `make test` shows: name the failed stages there.
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	t.Fatalf("the browser test failed (%v): %s\nnode ui.spec.mjs (%.1fs):\n%s\nScreenshots and the console log are in %s.\nLast lines of the lab's log:\n%s",
		err, failedStages(spec.String()), time.Since(start).Seconds(), spec.String(), artifacts, tail(string(log), 40))
}

// readToken waits (bounded) for the token file `svclab up --web` writes.
func readToken(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if tok := strings.TrimSpace(string(data)); err == nil && tok != "" {
			return tok
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access token in %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failedStages joins the script's "FAIL  stage: why" lines (first lines only) into one line.
func failedStages(out string) string {
	var failed []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "FAIL  ") {
			failed = append(failed, strings.TrimPrefix(line, "FAIL  "))
		}
	}
	if len(failed) == 0 {
		return tail(out, 1)
	}
	return strings.Join(failed, "; ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
