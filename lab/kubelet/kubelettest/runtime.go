package kubelettest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/svclab/svclab/lab/runtime"
)

// Call is one recorded runtime or network call.
type Call struct {
	Seq   int64
	Op    string // EnsureImage, Start, Stop, Remove, Exec, Setup, Teardown
	ID    string // container ID, image ref or pod UID
	Grace time.Duration
}

// Container is a fake container.
type Container struct {
	Spec   runtime.ContainerSpec
	Status runtime.Status
}

// Runtime is a recording runtime.Runtime: containers "run" until Exit or Stop.
type Runtime struct {
	mu         sync.Mutex
	name       string
	now        func() time.Time
	containers map[string]*Container
	calls      []Call

	// Images are present without a pull (ImagePresent reports them).
	Images map[string]bool
	// PullErr makes EnsureImage fail for an image.
	PullErr map[string]error
	// StopExitCode is the exit code a stopped container reports (default 143, SIGTERM).
	StopExitCode int
	// ExecFunc answers Exec; nil answers exit code 0.
	ExecFunc func(id string, req runtime.ExecRequest) (int, error)
	// RuntimeVersion is what Version reports.
	RuntimeVersion string
}

// NewRuntime returns a fake runtime called name ("containerd" or "process") whose timestamps
// come from now (nil: time.Now).
func NewRuntime(name string, now func() time.Time) *Runtime {
	if now == nil {
		now = time.Now
	}
	return &Runtime{name: name, now: now, containers: map[string]*Container{}, Images: map[string]bool{},
		PullErr: map[string]error{}, StopExitCode: 143}
}

var _ runtime.Runtime = (*Runtime)(nil)

func (r *Runtime) record(op, id string, grace time.Duration) {
	r.calls = append(r.calls, Call{Seq: seq.Add(1), Op: op, ID: id, Grace: grace})
}

// Calls returns the calls so far.
func (r *Runtime) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return r.name }

// Version reports RuntimeVersion (kubelet.RuntimeVersioner).
func (r *Runtime) Version(context.Context) (string, error) { return r.RuntimeVersion, nil }

// ImagePresent implements kubelet.ImageChecker.
func (r *Runtime) ImagePresent(_ context.Context, ref string) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Images[ref] {
		return ref + "@sha256:fake", true, nil
	}
	return "", false, nil
}

// EnsureImage implements runtime.Runtime.
func (r *Runtime) EnsureImage(_ context.Context, ref string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record("EnsureImage", ref, 0)
	if err := r.PullErr[ref]; err != nil {
		return err
	}
	r.Images[ref] = true
	return nil
}

// Start implements runtime.Runtime; it creates the log file.
func (r *Runtime) Start(_ context.Context, spec runtime.ContainerSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record("Start", spec.ID, 0)
	if c, ok := r.containers[spec.ID]; ok && c.Status.State == runtime.StateRunning {
		return fmt.Errorf("container %s already exists", spec.ID)
	}
	if spec.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	r.containers[spec.ID] = &Container{Spec: spec, Status: runtime.Status{State: runtime.StateRunning, StartedAt: r.now(), PID: 1000 + len(r.containers)}}
	return nil
}

// Stop implements runtime.Runtime.
func (r *Runtime) Stop(_ context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record("Stop", id, grace)
	c, ok := r.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	if c.Status.State == runtime.StateRunning {
		c.Status.State, c.Status.ExitCode, c.Status.FinishedAt = runtime.StateExited, r.StopExitCode, r.now()
		c.Status.Reason = "Error"
		if r.StopExitCode == 0 {
			c.Status.Reason = "Completed"
		}
	}
	return nil
}

// Status implements runtime.Runtime.
func (r *Runtime) Status(_ context.Context, id string) (runtime.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.Status{}, runtime.ErrNotFound
	}
	return c.Status, nil
}

// Exec implements runtime.Runtime.
func (r *Runtime) Exec(_ context.Context, id string, req runtime.ExecRequest) (int, error) {
	r.mu.Lock()
	r.record("Exec", id, 0)
	c, ok := r.containers[id]
	fn := r.ExecFunc
	r.mu.Unlock()
	if !ok || c.Status.State != runtime.StateRunning {
		return -1, runtime.ErrNotFound
	}
	if fn == nil {
		return 0, nil
	}
	return fn(id, req)
}

// Remove implements runtime.Runtime.
func (r *Runtime) Remove(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	r.record("Remove", id, 0)
	if c.Status.State == runtime.StateRunning {
		return fmt.Errorf("container %s is running", id)
	}
	delete(r.containers, id)
	return nil
}

// List implements runtime.Runtime.
func (r *Runtime) List(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id := range r.containers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// Cleanup implements runtime.Runtime.
func (r *Runtime) Cleanup(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers = map[string]*Container{}
	return nil
}

// Close implements runtime.Runtime.
func (r *Runtime) Close() error { return nil }

// Running returns the running containers, by container name.
func (r *Runtime) Running() map[string]runtime.ContainerSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]runtime.ContainerSpec{}
	for _, c := range r.containers {
		if c.Status.State == runtime.StateRunning {
			out[c.Spec.ContainerName] = c.Spec
		}
	}
	return out
}

// RunningPod returns the running containers of one pod, by container name.
func (r *Runtime) RunningPod(pod string) map[string]runtime.ContainerSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]runtime.ContainerSpec{}
	for _, c := range r.containers {
		if c.Status.State == runtime.StateRunning && c.Spec.PodName == pod {
			out[c.Spec.ContainerName] = c.Spec
		}
	}
	return out
}

// Exit makes the running container named name exit with code (as if its process ended).
func (r *Runtime) Exit(name string, code int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.containers {
		if c.Spec.ContainerName == name && c.Status.State == runtime.StateRunning {
			c.Status.State, c.Status.ExitCode, c.Status.FinishedAt = runtime.StateExited, code, r.now()
			return nil
		}
	}
	return fmt.Errorf("no running container %q", name)
}

// WriteLog appends text to the log of the running container named name.
func (r *Runtime) WriteLog(name, text string) error {
	r.mu.Lock()
	var path string
	for _, c := range r.containers {
		if c.Spec.ContainerName == name && c.Status.State == runtime.StateRunning {
			path = c.Spec.LogPath
		}
	}
	r.mu.Unlock()
	if path == "" {
		return fmt.Errorf("no running container %q", name)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(text)
	return err
}
