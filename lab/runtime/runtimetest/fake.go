package runtimetest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

var _ runtime.Runtime = (*Fake)(nil)

// Call is one recorded call on a Fake.
type Call struct {
	Method string // "EnsureImage", "Start", "Stop", "Status", "Exec", "Remove", "List", "Cleanup", "Close"
	ID     string // container ID, or the image reference for EnsureImage
	Spec   *runtime.ContainerSpec
	Grace  time.Duration
	Cmd    []string
}

// Fake is an in-memory runtime.Runtime that records every call. Containers start running and
// exit when stopped (with StopExitCode) or when a test calls Exit. Safe for concurrent use.
type Fake struct {
	// StopExitCode is the exit code a container stopped by Stop reports (0 by default:
	// a process that handles SIGTERM).
	StopExitCode int
	// ExecHook answers Exec; without it Exec writes nothing and returns 0.
	ExecHook func(id string, req runtime.ExecRequest) (int, error)
	// Now is the clock (time.Now by default).
	Now func() time.Time

	mu         sync.Mutex
	calls      []Call
	images     map[string]bool
	containers map[string]*fakeContainer
	failNext   map[string]error
	nextPID    int
}

type fakeContainer struct {
	spec   runtime.ContainerSpec
	status runtime.Status
}

// NewFake returns a Fake that has the built-in images.
func NewFake() *Fake {
	f := &Fake{images: map[string]bool{}, containers: map[string]*fakeContainer{}, failNext: map[string]error{}, nextPID: 1000}
	for _, r := range image.Refs() {
		f.images[r] = true
	}
	return f
}

// AddImage makes ref available to EnsureImage and Start.
func (f *Fake) AddImage(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[normalize(ref)] = true
}

// FailNext makes the next call of method return err.
func (f *Fake) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[method] = err
}

// Exit makes a running container exit with code, as if its process had ended.
func (f *Fake) Exit(id string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok && c.status.State == runtime.StateRunning {
		f.exitLocked(c, code)
	}
}

// Calls returns the recorded calls in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Methods returns the recorded calls as "Method ID" strings, handy for comparisons.
func (f *Fake) Methods() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.Method+" "+c.ID)
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Spec returns the spec a container was started with.
func (f *Fake) Spec(id string) (runtime.ContainerSpec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return runtime.ContainerSpec{}, false
	}
	return c.spec, true
}

func (f *Fake) record(c Call) error {
	f.calls = append(f.calls, c)
	if err, ok := f.failNext[c.Method]; ok {
		delete(f.failNext, c.Method)
		return err
	}
	return nil
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fake) exitLocked(c *fakeContainer, code int) {
	c.status.State = runtime.StateExited
	c.status.ExitCode = code
	c.status.Reason = "Completed"
	if code != 0 {
		c.status.Reason = "Error"
	}
	c.status.FinishedAt = f.now()
	c.status.PID = 0
}

// Name implements runtime.Runtime.
func (f *Fake) Name() string { return "fake" }

// EnsureImage implements runtime.Runtime.
func (f *Fake) EnsureImage(ctx context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "EnsureImage", ID: ref}); err != nil {
		return err
	}
	if !f.images[normalize(ref)] {
		return fmt.Errorf("fake runtime: pull %s: %w", ref, runtime.ErrImageNotFound)
	}
	return nil
}

// Start implements runtime.Runtime.
func (f *Fake) Start(ctx context.Context, spec runtime.ContainerSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := spec
	if err := f.record(Call{Method: "Start", ID: spec.ID, Spec: &s}); err != nil {
		return err
	}
	if !f.images[normalize(spec.Image)] {
		return fmt.Errorf("fake runtime: image %s: %w", spec.Image, runtime.ErrImageNotFound)
	}
	if _, ok := f.containers[spec.ID]; ok {
		return fmt.Errorf("fake runtime: container %s already exists", spec.ID)
	}
	f.nextPID++
	f.containers[spec.ID] = &fakeContainer{spec: spec, status: runtime.Status{State: runtime.StateRunning, StartedAt: f.now(), PID: f.nextPID}}
	return nil
}

// Stop implements runtime.Runtime.
func (f *Fake) Stop(ctx context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Stop", ID: id, Grace: grace}); err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("fake runtime: stop %s: %w", id, runtime.ErrNotFound)
	}
	if c.status.State == runtime.StateRunning {
		f.exitLocked(c, f.StopExitCode)
	}
	return nil
}

// Status implements runtime.Runtime.
func (f *Fake) Status(ctx context.Context, id string) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Status", ID: id}); err != nil {
		return runtime.Status{}, err
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.Status{}, fmt.Errorf("fake runtime: status %s: %w", id, runtime.ErrNotFound)
	}
	return c.status, nil
}

// Exec implements runtime.Runtime.
func (f *Fake) Exec(ctx context.Context, id string, req runtime.ExecRequest) (int, error) {
	f.mu.Lock()
	err := f.record(Call{Method: "Exec", ID: id, Cmd: slices.Clone(req.Cmd)})
	c, ok := f.containers[id]
	hook := f.ExecHook
	f.mu.Unlock()
	if err != nil {
		return -1, err
	}
	if !ok {
		return -1, fmt.Errorf("fake runtime: exec in %s: %w", id, runtime.ErrNotFound)
	}
	if c.status.State != runtime.StateRunning {
		return -1, fmt.Errorf("fake runtime: exec in %s: container is not running", id)
	}
	if hook != nil {
		return hook(id, req)
	}
	if req.Stdin != nil {
		io.Copy(io.Discard, req.Stdin)
	}
	return 0, nil
}

// Remove implements runtime.Runtime.
func (f *Fake) Remove(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Remove", ID: id}); err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("fake runtime: remove %s: %w", id, runtime.ErrNotFound)
	}
	if c.status.State == runtime.StateRunning {
		return fmt.Errorf("fake runtime: remove %s: container is running", id)
	}
	delete(f.containers, id)
	return nil
}

// List implements runtime.Runtime.
func (f *Fake) List(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "List"}); err != nil {
		return nil, err
	}
	var ids []string
	for id := range f.containers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Cleanup implements runtime.Runtime: it forgets every container.
func (f *Fake) Cleanup(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Cleanup"}); err != nil {
		return err
	}
	clear(f.containers)
	return nil
}

// Close implements runtime.Runtime.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.record(Call{Method: "Close"})
}

func normalize(ref string) string {
	if n, err := image.Normalize(ref); err == nil {
		return n
	}
	return ref
}
