package process

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/lab/runtime"
	"github.com/svclab/svclab/lab/runtime/runtimetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	runtimetest.RemoveAgent()
	os.Exit(code)
}

func newTestRuntime(t *testing.T, lab string) *Runtime {
	t.Helper()
	r, err := New(lab, filepath.Join(t.TempDir(), "process"), nil, WithBinary(runtimetest.BuildAgent(t)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPrivilegedProcessConformance(t *testing.T) {
	privtest.Require(t, "ip", "go")
	lab := runtimetest.RandomName("svclabt-")
	var r *Runtime
	runtimetest.RunConformance(t, runtimetest.Harness{
		NetNSPath: runtimetest.NewNetNS(t),
		New: func(t *testing.T) runtime.Runtime {
			r = newTestRuntime(t, lab)
			return r
		},
		AfterCleanup: func(t *testing.T) {
			if pids, _ := LabProcesses(lab); len(pids) > 0 {
				t.Errorf("processes %v survive Cleanup", pids)
			}
			if _, err := os.Stat(r.stateDir); !os.IsNotExist(err) {
				t.Errorf("state directory %s survives Cleanup: %v", r.stateDir, err)
			}
		},
	})
}

// TestPrivilegedProcessCleanupAfterCrash starts containers with one Runtime, forgets it (as
// a crashed svclab would) and cleans up with a new one.
func TestPrivilegedProcessCleanupAfterCrash(t *testing.T) {
	privtest.Require(t, "ip", "go")
	ns := runtimetest.NewNetNS(t)
	lab := runtimetest.RandomName("svclabt-")
	other := runtimetest.RandomName("svclabt-")
	ctx := context.Background()
	first := newTestRuntime(t, lab)
	bystander := newTestRuntime(t, other)
	t.Cleanup(func() { bystander.Cleanup(ctx) })
	logs := t.TempDir()
	for i, rt := range []*Runtime{first, first, bystander} {
		spec := runtime.ContainerSpec{ID: "c" + string(rune('0'+i)), Image: "svclab.local/agent:v1", NetNSPath: ns,
			Command: []string{"/svclab", "ignore-term"}, LogPath: filepath.Join(logs, "c"+string(rune('0'+i)))}
		if err := rt.Start(ctx, spec); err != nil {
			t.Fatal(err)
		}
		runtimetest.WaitLog(t, spec.LogPath, "ignoring", 10*time.Second)
	}
	if pids, _ := LabProcesses(lab); len(pids) != 2 {
		t.Fatalf("LabProcesses(%s) = %v, want 2 processes", lab, pids)
	}
	second := newTestRuntime(t, lab)
	second.stateDir = first.stateDir
	if err := second.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if pids, _ := LabProcesses(lab); len(pids) != 0 {
		t.Errorf("processes %v survive Cleanup", pids)
	}
	if pids, _ := LabProcesses(other); len(pids) != 1 {
		t.Errorf("another lab's process was touched: %v", pids)
	}
	st, _ := first.Status(ctx, "c0")
	if st.State != runtime.StateExited || st.ExitCode != 137 {
		t.Errorf("status of a container killed by Cleanup = %+v", st)
	}
}
