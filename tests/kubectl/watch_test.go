package kubectl_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// stream is a kubectl running in the background (get -w), its stdout collected line by line.
type stream struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr bytes.Buffer
	mu     sync.Mutex
	lines  []string
	done   chan struct{}
}

// start runs kubectl in the background; it is killed when the test ends at the latest.
func (k *kubectl) start(args ...string) *stream {
	k.t.Helper()
	args = append([]string{"--namespace", k.ns}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	s := &stream{t: k.t, cancel: cancel, done: make(chan struct{})}
	s.cmd = exec.CommandContext(ctx, k.bin, args...)
	s.cmd.Env = []string{"HOME=" + k.t.TempDir(), "KUBECONFIG=" + srv.KubeconfigPath, "PATH=" + os.Getenv("PATH"), "LANG=C"}
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		k.t.Fatalf("start kubectl %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
		}
		_ = s.cmd.Wait()
	}()
	k.t.Cleanup(s.stop)
	return s
}

// waitLines waits until the stream has printed at least n lines and returns them all.
func (s *stream) waitLines(n int) []string {
	s.t.Helper()
	var got []string
	eventually(s.t, 30*time.Second, func() error {
		s.mu.Lock()
		got = append([]string(nil), s.lines...)
		s.mu.Unlock()
		if len(got) < n {
			return fmt.Errorf("kubectl %s printed %d lines, want %d:\n%s\nstderr: %s",
				strings.Join(s.cmd.Args[1:], " "), len(got), n, strings.Join(got, "\n"), s.stderrText())
		}
		return nil
	})
	return got
}

func (s *stream) stderrText() string {
	select {
	case <-s.done:
		return s.stderr.String()
	default:
		return "(still running)"
	}
}

// stop kills kubectl and waits for it.
func (s *stream) stop() {
	s.cancel()
	<-s.done
}

// TestGetWatch: kubectl get -w prints the current objects, then every change as it happens.
func TestGetWatch(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		// (Every namespace also has the kube-root-ca.crt ConfigMap: watch the test's own.)
		k.ok("create", "configmap", "one", "--from-literal=a=1")
		k.ok("label", "configmap", "one", "test=watch")
		w := k.start("get", "configmaps", "-l", "test", "-w", "--output-watch-events")
		plain := k.start("get", "configmaps", "one", "-w")
		wantText(t, cells(strings.Join(w.waitLines(2), "\n")), lines(`
			EVENT | NAME | DATA | AGE
			ADDED | one | 1 | <age>`))
		plain.waitLines(2)

		k.ok("create", "configmap", "two", "--from-literal=a=1", "--from-literal=b=2")
		k.ok("label", "configmap", "two", "test=watch")
		k.ok("label", "configmap", "one", "changed=yes")
		k.ok("delete", "configmap", "two")
		wantText(t, cells(strings.Join(w.waitLines(5), "\n")), lines(`
			EVENT | NAME | DATA | AGE
			ADDED | one | 1 | <age>
			ADDED | two | 2 | <age>
			MODIFIED | one | 1 | <age>
			DELETED | two | 2 | <age>`))
		// A watch of one object by name sees only that object's changes.
		wantText(t, cells(strings.Join(plain.waitLines(3), "\n")), lines(`
			NAME | DATA | AGE
			one | 1 | <age>
			one | 1 | <age>`))

		// A watch with a label selector sees objects come into and leave the selection.
		sel := k.start("get", "services", "-l", "app=web", "-w", "--output-watch-events")
		k.ok("create", "service", "clusterip", "web", "--tcp=80")
		k.ok("label", "service", "web", "app=other", "--overwrite")
		wantText(t, cells(strings.Join(sel.waitLines(3), "\n")), lines(`
			EVENT | NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE
			ADDED | web | ClusterIP | <ip> | <none> | 80/TCP | <age>
			DELETED | web | ClusterIP | <ip> | <none> | 80/TCP | <age>`))
		for _, s := range []*stream{w, plain, sel} {
			s.mu.Lock()
			n := len(s.lines)
			s.mu.Unlock()
			s.stop()
			if extra := s.lines[n:]; len(extra) > 0 {
				t.Errorf("unexpected watch lines: %q", extra)
			}
		}
	})
}
