package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// startTimeout bounds how long the binary may take to answer /readyz.
const startTimeout = 90 * time.Second

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// svclabBinary returns the binary under test: $SVCLAB_BIN when set (make test builds
// bin/svclab first), otherwise one built from this module into a temporary directory.
func svclabBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SVCLAB_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "svclab-persistence-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "svclab")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/svclab")
		// Same settings as `go test` itself, so the build reuses its cache.
		cmd.Dir = root
		dieWithTest(cmd)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/svclab: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// apiserverProcess is one run of `svclab apiserver` as a child process.
type apiserverProcess struct {
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{}
	client kubernetes.Interface
	url    string
}

// startAPIServer runs the binary on dataDir and waits until it is ready. The process is
// SIGKILLed at the end of the test if it is still running.
func startAPIServer(t *testing.T, bin, dataDir string) *apiserverProcess {
	t.Helper()
	kubeconfig := filepath.Join(dataDir, "kubeconfig")
	// The kubeconfig names the port; remove the previous run's so we wait for the new one.
	if err := os.Remove(kubeconfig); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	p := &apiserverProcess{log: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "apiserver", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--kubeconfig-out", kubeconfig)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	dieWithTest(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of svclab apiserver (pid %d):\n%s", p.cmd.Process.Pid, p.log.tail(60))
		}
	})

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.exited:
			t.Fatalf("svclab apiserver exited during start (%v):\n%s", p.cmd.ProcessState, p.log.tail(60))
		default:
		}
		if p.ready(kubeconfig) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("svclab apiserver not ready within %v:\n%s", startTimeout, p.log.tail(60))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready reports whether the kubeconfig exists and the server answers /readyz.
func (p *apiserverProcess) ready(kubeconfig string) bool {
	if p.client == nil {
		if _, err := os.Stat(kubeconfig); err != nil {
			return false
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return false // written but not complete yet
		}
		cfg.Timeout = 15 * time.Second
		// No client-side throttling: the writers should really be in flight at the kill.
		cfg.QPS, cfg.Burst = 1000, 1000
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return false
		}
		p.client, p.url = client, cfg.Host
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := p.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil && strings.TrimSpace(string(body)) == "ok"
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *apiserverProcess) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill() // SIGKILL: no shutdown hooks, no flushing
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
	}
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
