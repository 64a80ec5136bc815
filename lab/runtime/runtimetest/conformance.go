package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/runtime"
)

// Harness is what a runtime's test gives the conformance suite.
type Harness struct {
	// New returns the runtime under test, its built-in image made from BuildAgent's binary.
	// The suite calls Cleanup (twice) and Close at the end.
	New func(t *testing.T) runtime.Runtime
	// NetNSPath is the network namespace containers join (see NewNetNS).
	NetNSPath string
	// AfterCleanup, if set, checks that nothing runtime-specific is left (processes, daemon
	// objects, cgroups, state directories).
	AfterCleanup func(t *testing.T)
}

// MissingImage is an image that exists nowhere; pulling it fails fast offline (.invalid never resolves).
const MissingImage = "registry.invalid/svclab/missing:1"

// RunConformance runs the shared runtime tests. They need root and a network namespace.
func RunConformance(t *testing.T, h Harness) {
	rt := h.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := &suite{rt: rt, h: h, ctx: ctx, logs: t.TempDir()}

	t.Run("Images", s.testImages)
	t.Run("StartLogsGracefulStop", s.testGracefulStop)
	t.Run("KillAfterGrace", s.testKillAfterGrace)
	t.Run("ExitCode", s.testExitCode)
	t.Run("Exec", s.testExec)
	t.Run("NotFound", s.testNotFound)
	t.Run("Cleanup", s.testCleanup)
	if err := rt.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

type suite struct {
	rt   runtime.Runtime
	h    Harness
	ctx  context.Context
	logs string
	n    int
}

func (s *suite) spec(name, ref string) runtime.ContainerSpec {
	s.n++
	id := fmt.Sprintf("ct-%s-%d", strings.ToLower(name), s.n)
	return runtime.ContainerSpec{
		ID: id, PodUID: "uid-" + id, PodName: "pod-" + name, PodNamespace: "default", ContainerName: name,
		Image: ref, NetNSPath: s.h.NetNSPath, Hostname: "pod-" + strings.ToLower(name),
		LogPath: filepath.Join(s.logs, id+".log"),
	}
}

func (s *suite) start(t *testing.T, spec runtime.ContainerSpec) {
	t.Helper()
	if err := s.rt.EnsureImage(s.ctx, spec.Image); err != nil {
		t.Fatalf("EnsureImage(%s): %v", spec.Image, err)
	}
	if err := s.rt.Start(s.ctx, spec); err != nil {
		t.Fatalf("Start(%s): %v", spec.ID, err)
	}
}

func (s *suite) status(t *testing.T, id string) runtime.Status {
	t.Helper()
	st, err := s.rt.Status(s.ctx, id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	return st
}

func (s *suite) waitExited(t *testing.T, id string) runtime.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := s.status(t, id)
		if st.State == runtime.StateExited {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still %s after 20s", id, st.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *suite) testImages(t *testing.T) {
	for _, ref := range []string{"svclab.local/agent:v1", "svclab/agent:v2", "docker.io/svclab/agent:latest", "svclab.local/agent"} {
		if err := s.rt.EnsureImage(s.ctx, ref); err != nil {
			t.Errorf("EnsureImage(%s): %v", ref, err)
		}
	}
	start := time.Now()
	err := s.rt.EnsureImage(s.ctx, MissingImage)
	if !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("EnsureImage(%s) = %v, want ErrImageNotFound", MissingImage, err)
	}
	t.Logf("%s: EnsureImage(%s) failed in %v: %v", s.rt.Name(), MissingImage, time.Since(start).Round(time.Millisecond), err)
	spec := s.spec("missing", MissingImage)
	if err := s.rt.Start(s.ctx, spec); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("Start with %s = %v, want ErrImageNotFound", MissingImage, err)
	}
	if _, err := s.rt.Status(s.ctx, spec.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after a failed Start = %v, want ErrNotFound", err)
	}
}

func (s *suite) testGracefulStop(t *testing.T) {
	spec := s.spec("agent", "svclab.local/agent:v2")
	spec.Env = []string{"TERM_DELAY=300ms"}
	if err := s.rt.EnsureImage(s.ctx, spec.Image); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := s.rt.Start(s.ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	started := time.Since(begin)
	WaitLog(t, spec.LogPath, "agent v2 started", 20*time.Second)
	t.Logf("%s: Start returned after %v, first output after %v", s.rt.Name(), started.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))

	st := s.status(t, spec.ID)
	if st.State != runtime.StateRunning || st.PID <= 0 || st.StartedAt.IsZero() {
		t.Errorf("Status of a running container = %+v", st)
	}
	if ids, err := s.rt.List(s.ctx); err != nil || !slices.Contains(ids, spec.ID) {
		t.Errorf("List = %v, %v; want it to hold %s", ids, err, spec.ID)
	}
	begin = time.Now()
	if err := s.rt.Stop(s.ctx, spec.ID, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(begin)
	t.Logf("%s: graceful Stop took %v (agent delays 300ms)", s.rt.Name(), took.Round(time.Millisecond))
	if took < 300*time.Millisecond || took > 8*time.Second {
		t.Errorf("Stop took %v; the agent exits 300ms after SIGTERM", took)
	}
	st = s.status(t, spec.ID)
	if st.State != runtime.StateExited || st.ExitCode != 0 || st.Reason != "Completed" || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("Status after a graceful stop = %+v", st)
	}
	WaitLog(t, spec.LogPath, "SIGTERM received\nbye\n", time.Second)
	if err := s.rt.Stop(s.ctx, spec.ID, time.Second); err != nil {
		t.Errorf("Stop of an exited container: %v", err)
	}
	if err := s.rt.Remove(s.ctx, spec.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := s.rt.Status(s.ctx, spec.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Remove = %v, want ErrNotFound", err)
	}
	if ids, _ := s.rt.List(s.ctx); slices.Contains(ids, spec.ID) {
		t.Errorf("List after Remove still holds %s", spec.ID)
	}
}

func (s *suite) testKillAfterGrace(t *testing.T) {
	spec := s.spec("stubborn", "svclab/agent:v1")
	spec.Command = []string{"/svclab", "ignore-term"}
	s.start(t, spec)
	WaitLog(t, spec.LogPath, "ignoring SIGTERM", 20*time.Second)
	if err := s.rt.Remove(s.ctx, spec.ID); err == nil {
		t.Error("Remove of a running container succeeded")
	}
	begin := time.Now()
	if err := s.rt.Stop(s.ctx, spec.ID, 500*time.Millisecond); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(begin)
	if took < 500*time.Millisecond || took > 10*time.Second {
		t.Errorf("Stop with a 500ms grace took %v", took)
	}
	st := s.status(t, spec.ID)
	if st.State != runtime.StateExited || st.ExitCode != 128+int(syscall.SIGKILL) || st.Reason != "Error" {
		t.Errorf("Status after SIGKILL = %+v, want exited with 137", st)
	}
	if err := s.rt.Remove(s.ctx, spec.ID); err != nil {
		t.Errorf("Remove: %v", err)
	}
}

func (s *suite) testExitCode(t *testing.T) {
	spec := s.spec("exit", "svclab.local/agent:v1")
	spec.Args = []string{"exit", "3"} // replaces the image's cmd, keeps its entrypoint
	s.start(t, spec)
	st := s.waitExited(t, spec.ID)
	if st.ExitCode != 3 || st.Reason != "Error" || st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("Status = %+v, want exit code 3", st)
	}
	WaitLog(t, spec.LogPath, "exiting with 3", time.Second)
	WaitLog(t, spec.LogPath, "to stderr", time.Second)
	if _, err := s.rt.Exec(s.ctx, spec.ID, runtime.ExecRequest{Cmd: []string{"/svclab", "echo"}}); err == nil {
		t.Error("Exec in an exited container succeeded")
	}
	if err := s.rt.Remove(s.ctx, spec.ID); err != nil {
		t.Errorf("Remove: %v", err)
	}
}

func (s *suite) testExec(t *testing.T) {
	spec := s.spec("exec", "svclab.local/agent:v1")
	spec.Env = []string{"FOO=bar"}
	s.start(t, spec)
	WaitLog(t, spec.LogPath, "agent v1 started", 20*time.Second)

	var nsInode uint64
	var st syscall.Stat_t
	if err := syscall.Stat(s.h.NetNSPath, &st); err != nil {
		t.Fatal(err)
	}
	nsInode = st.Ino
	tests := []struct {
		name     string
		cmd      []string
		stdin    string
		code     int
		want     string // stdout, or a line of it with contains
		contains bool
	}{
		{name: "echo", cmd: []string{"/svclab", "echo", "hello", "world"}, want: "hello world\n"},
		{name: "exit code", cmd: []string{"/svclab", "exit", "5"}, code: 5, want: "exiting with 5\n"},
		{name: "stdin", cmd: []string{"/svclab", "cat"}, stdin: "ping\n", want: "ping\n"},
		{name: "env", cmd: []string{"/svclab", "env"}, want: "FOO=bar\n", contains: true},
		{name: "hostname env", cmd: []string{"/svclab", "env"}, want: "HOSTNAME=pod-exec\n", contains: true},
		{name: "image env", cmd: []string{"/svclab", "env"}, want: "SVCLAB_IMAGE_VERSION=v1\n", contains: true},
		{name: "network namespace", cmd: []string{"/svclab", "netns"}, want: fmt.Sprintf("%d\n", nsInode)},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		req := runtime.ExecRequest{Cmd: tt.cmd, Stdout: &stdout, Stderr: &stderr}
		if tt.stdin != "" {
			req.Stdin = strings.NewReader(tt.stdin)
		}
		begin := time.Now()
		code, err := s.rt.Exec(s.ctx, spec.ID, req)
		if err != nil {
			t.Errorf("%s: Exec: %v", tt.name, err)
			continue
		}
		if tt.name == "echo" {
			t.Logf("%s: exec took %v", s.rt.Name(), time.Since(begin).Round(time.Millisecond))
		}
		out := stdout.String()
		if code != tt.code || (tt.contains && !strings.Contains(out, tt.want)) || (!tt.contains && out != tt.want) {
			t.Errorf("%s: Exec(%v) = %d, stdout %q (stderr %q); want %d, %q", tt.name, tt.cmd, code, out, stderr.String(), tt.code, tt.want)
		}
	}
	if _, err := s.rt.Exec(s.ctx, spec.ID, runtime.ExecRequest{Cmd: []string{"/no/such/program"}}); err == nil {
		t.Log("Exec of a missing program returned no error (a non-zero code is fine)")
	}
	if err := s.rt.Stop(s.ctx, spec.ID, 5*time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func (s *suite) testNotFound(t *testing.T) {
	const id = "no-such-container"
	if _, err := s.rt.Status(s.ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status = %v, want ErrNotFound", err)
	}
	if err := s.rt.Stop(s.ctx, id, time.Second); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stop = %v, want ErrNotFound", err)
	}
	if err := s.rt.Remove(s.ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Remove = %v, want ErrNotFound", err)
	}
	if _, err := s.rt.Exec(s.ctx, id, runtime.ExecRequest{Cmd: []string{"/svclab", "echo"}}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Exec = %v, want ErrNotFound", err)
	}
}

func (s *suite) testCleanup(t *testing.T) {
	a := s.spec("left-a", "svclab.local/agent:v1")
	b := s.spec("left-b", "svclab.local/agent:v1")
	b.Command = []string{"/svclab", "ignore-term"}
	s.start(t, a)
	s.start(t, b)
	WaitLog(t, b.LogPath, "ignoring SIGTERM", 20*time.Second)
	begin := time.Now()
	if err := s.rt.Cleanup(s.ctx); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	t.Logf("%s: Cleanup took %v", s.rt.Name(), time.Since(begin).Round(time.Millisecond))
	if err := s.rt.Cleanup(s.ctx); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	if s.h.AfterCleanup != nil {
		s.h.AfterCleanup(t)
	}
	if _, err := os.Stat(a.LogPath); err != nil {
		t.Errorf("Cleanup removed a log file: %v", err)
	}
}
