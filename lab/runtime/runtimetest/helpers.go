package runtimetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var agentOnce struct {
	sync.Once
	dir  string
	path string
	err  error
}

// BuildAgent compiles the test agent (package testagent, a static binary) once per test
// process and returns its path; build the built-in image from it so "/svclab CMD" runs it.
// Call RemoveAgent from TestMain to delete it.
func BuildAgent(t testing.TB) string {
	t.Helper()
	agentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "svclabt-agent-")
		if err != nil {
			agentOnce.err = err
			return
		}
		agentOnce.dir = dir
		out := filepath.Join(dir, "svclab")
		cmd := exec.Command("go", "build", "-o", out, "github.com/svclab/svclab/lab/runtime/runtimetest/testagent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			agentOnce.err = fmt.Errorf("go build testagent: %v\n%s", err, b)
			return
		}
		agentOnce.path = out
	})
	if agentOnce.err != nil {
		t.Fatal(agentOnce.err)
	}
	return agentOnce.path
}

// RemoveAgent deletes the binary BuildAgent made (for TestMain).
func RemoveAgent() {
	if agentOnce.dir != "" {
		os.RemoveAll(agentOnce.dir)
	}
}

// RandomName returns prefix followed by 8 random hex digits (svclabt-1a2b3c4d).
func RandomName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// NewNetNS creates a network namespace named svclabt-<random> with `ip netns add`, brings
// its loopback up, deletes it in t.Cleanup and returns its path. Privileged tests only.
func NewNetNS(t testing.TB) string {
	t.Helper()
	name := RandomName("svclabt-")
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return "/var/run/netns/" + name
}

// WaitLog waits until the file at path contains want and returns the time it took.
func WaitLog(t testing.TB, path, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("log %s: %q did not appear within %v; it holds:\n%s", path, want, timeout, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
