package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

var _ runtime.Runtime = (*Runtime)(nil)

// CookieEnv is set in the environment of every process the runtime starts, to
// "<lab>/<container ID>" (exec'd commands: "<lab>/<container ID>/exec"). Cleanup finds a lab's
// processes by it — also those a crashed svclab left behind — and never kills anything else.
const CookieEnv = "SVCLAB_PROCESS"

// MountsEnv tells the program the mounts it would have had: the process runtime has no mount
// namespace, so it passes them as "hostPath:containerPath[:ro]" entries separated by commas
// for svclab's own components to translate paths.
const MountsEnv = "SVCLAB_MOUNTS"

// Runtime runs containers of the built-in svclab image as child processes.
//
// What a "container" is here:
//   - The program is the svclab binary itself (image entrypoint /svclab), run with the image's
//     entrypoint, cmd and env, the Kubernetes command/args rules, and the pod's env.
//     Command[0] (or an exec'd command) may also be an absolute path of a host program — the
//     process runtime shares the host's filesystem, which is why system pods that need host
//     tools (iptables-restore, nft) use it. Any image other than the built-in ones fails with
//     runtime.ErrImageNotFound.
//   - It joins spec.NetNSPath: the child is forked from an OS thread that was moved into the
//     namespace with setns(2) and is then discarded, so no other goroutine ever runs there.
//   - No mount, UTS or PID namespace: Hostname becomes $HOSTNAME, Mounts become $SVCLAB_MOUNTS,
//     and the program is not PID 1 (a program without a SIGTERM handler dies on SIGTERM).
//   - Exec runs in the same network namespace with the container's environment; TTY is not
//     supported (output is plain pipes).
//   - Its own process group: Stop sends SIGTERM to the main process, SIGKILL to the group
//     after the grace period, and the group is killed when the main process exits.
type Runtime struct {
	lab      string
	stateDir string
	binary   string
	log      *slog.Logger

	mu         sync.Mutex
	containers map[string]*container
}

// Option configures a Runtime.
type Option func(*Runtime) error

// WithBinary sets the svclab binary that /svclab stands for (default: the running executable).
func WithBinary(path string) Option {
	return func(r *Runtime) error {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		r.binary = abs
		return nil
	}
}

// New returns a process runtime for lab that records its processes under stateDir
// (normally /run/svclab/<lab>/process).
func New(lab, stateDir string, log *slog.Logger, opts ...Option) (*Runtime, error) {
	if lab == "" || strings.Contains(lab, "/") {
		return nil, fmt.Errorf("process runtime: invalid lab name %q", lab)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{lab: lab, stateDir: stateDir, log: log.With("component", "runtime", "runtime", "process"), containers: map[string]*container{}}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, fmt.Errorf("process runtime: %w", err)
		}
	}
	if r.binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("process runtime: find the svclab binary: %w", err)
		}
		r.binary = exe
	}
	if _, err := os.Stat(r.binary); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("process runtime: state directory: %w", err)
	}
	return r, nil
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return "process" }

// EnsureImage implements runtime.Runtime: only the built-in images exist.
func (r *Runtime) EnsureImage(ctx context.Context, ref string) error {
	if image.IsBuiltin(ref) {
		return nil
	}
	return fmt.Errorf("image %q: the process runtime runs only the built-in svclab images (%s:%s): %w",
		ref, image.Repository, strings.Join(image.Tags, "|"), runtime.ErrImageNotFound)
}

func (r *Runtime) cookie(id string) string { return r.lab + "/" + id }

// container is one started program.
type container struct {
	spec   runtime.ContainerSpec
	env    []string
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process has exited and been reaped
	status runtime.Status
}

// stateRecord is what the state directory keeps per container, for people and for Cleanup.
type stateRecord struct {
	ID      string    `json:"id"`
	PID     int       `json:"pid"`
	Cookie  string    `json:"cookie"`
	Argv    []string  `json:"argv"`
	LogPath string    `json:"logPath"`
	Started time.Time `json:"started"`
}

// Start implements runtime.Runtime.
func (r *Runtime) Start(ctx context.Context, spec runtime.ContainerSpec) error {
	if err := r.EnsureImage(ctx, spec.Image); err != nil {
		return err
	}
	if spec.ID == "" || strings.ContainsAny(spec.ID, "/\x00") {
		return fmt.Errorf("process runtime: invalid container ID %q", spec.ID)
	}
	cfg, err := image.ConfigFor(spec.Image)
	if err != nil {
		return err
	}
	argv := containerArgs(cfg, spec.Command, spec.Args)
	env := mergeEnv(cfg.Env, spec.Env)
	if spec.Hostname != "" {
		env = mergeEnv(env, []string{"HOSTNAME=" + spec.Hostname})
	}
	if len(spec.Mounts) > 0 {
		env = mergeEnv(env, []string{MountsEnv + "=" + mountsValue(spec.Mounts)})
	}
	path, err := r.resolve(argv[0], env)
	if err != nil {
		return fmt.Errorf("process runtime: start %s: %w", spec.ID, err)
	}

	r.mu.Lock()
	if _, ok := r.containers[spec.ID]; ok {
		r.mu.Unlock()
		return fmt.Errorf("process runtime: container %s already exists", spec.ID)
	}
	c := &container{spec: spec, env: env, done: make(chan struct{}), status: runtime.Status{State: runtime.StateCreated}}
	r.containers[spec.ID] = c
	r.mu.Unlock()

	if err := r.startContainer(c, path, argv); err != nil {
		r.mu.Lock()
		delete(r.containers, spec.ID)
		r.mu.Unlock()
		return fmt.Errorf("process runtime: start %s: %w", spec.ID, err)
	}
	return nil
}

func (r *Runtime) startContainer(c *container, path string, argv []string) error {
	spec := c.spec
	if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own copy
	dir := spec.WorkingDir
	if dir == "" {
		dir = "/"
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         append(slices.Clone(c.env), CookieEnv+"="+r.cookie(spec.ID)),
		Dir:         dir,
		Stdout:      logf,
		Stderr:      logf,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := startInNetNS(spec.NetNSPath, cmd); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	r.mu.Lock()
	c.cmd = cmd
	c.status = runtime.Status{State: runtime.StateRunning, StartedAt: time.Now(), PID: pid}
	r.mu.Unlock()
	r.writeState(stateRecord{ID: spec.ID, PID: pid, Cookie: r.cookie(spec.ID), Argv: argv, LogPath: spec.LogPath, Started: c.status.StartedAt})
	r.log.Debug("container started", "id", spec.ID, "pid", pid, "argv", argv, "netns", spec.NetNSPath)
	go r.wait(c)
	return nil
}

// wait reaps the container's main process. Before reaping it kills what is left of the
// process group: the unreaped leader keeps the group ID from being reused.
func (r *Runtime) wait(c *container) {
	pid := c.cmd.Process.Pid
	waitExitNoReap(pid)
	syscall.Kill(-pid, syscall.SIGKILL)
	c.cmd.Wait()
	code, reason := exitStatus(c.cmd.ProcessState)
	r.mu.Lock()
	c.status.State = runtime.StateExited
	c.status.ExitCode = code
	c.status.Reason = reason
	c.status.FinishedAt = time.Now()
	c.status.PID = 0
	r.mu.Unlock()
	close(c.done)
	r.log.Debug("container exited", "id", c.spec.ID, "exitCode", code)
}

func exitStatus(ps *os.ProcessState) (int, string) {
	code := ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if code == 0 {
		return 0, "Completed"
	}
	return code, "Error"
}

func (r *Runtime) get(id string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("process runtime: container %s: %w", id, runtime.ErrNotFound)
	}
	return c, nil
}

// Stop implements runtime.Runtime.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	if c.cmd == nil {
		return nil
	}
	pid := c.cmd.Process.Pid
	select {
	case <-c.done:
		return nil
	default:
	}
	syscall.Kill(pid, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var ctxErr error
	select {
	case <-c.done:
		return nil
	case <-timer.C:
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	r.log.Debug("grace period over, killing", "id", id, "pid", pid, "grace", grace)
	syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-c.done:
		return ctxErr
	case <-time.After(10 * time.Second):
		return fmt.Errorf("process runtime: stop %s: process %d did not die after SIGKILL", id, pid)
	}
}

// Status implements runtime.Runtime.
func (r *Runtime) Status(ctx context.Context, id string) (runtime.Status, error) {
	c, err := r.get(id)
	if err != nil {
		return runtime.Status{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return c.status, nil
}

// Remove implements runtime.Runtime.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
	default:
		return fmt.Errorf("process runtime: remove %s: container is running", id)
	}
	r.mu.Lock()
	delete(r.containers, id)
	r.mu.Unlock()
	if err := os.Remove(r.statePath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process runtime: remove %s: %w", id, err)
	}
	return nil
}

// List implements runtime.Runtime. Containers of an earlier svclab process are not adopted:
// Cleanup kills them.
func (r *Runtime) List(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.containers))
	for id := range r.containers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Close implements runtime.Runtime. Containers keep running: Cleanup stops them.
func (r *Runtime) Close() error { return nil }

func (r *Runtime) statePath(id string) string { return filepath.Join(r.stateDir, id+".json") }

func (r *Runtime) writeState(rec stateRecord) {
	data, _ := json.Marshal(rec)
	if err := os.WriteFile(r.statePath(rec.ID), data, 0o600); err != nil {
		r.log.Warn("cannot record container state", "id", rec.ID, "err", err)
	}
}
