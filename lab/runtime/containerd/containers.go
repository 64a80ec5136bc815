package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

// Container labels.
const (
	LabelPodUID        = "svclab.io/pod-uid"
	LabelPodName       = "svclab.io/pod-name"
	LabelPodNamespace  = "svclab.io/pod-namespace"
	LabelContainerName = "svclab.io/container-name"
	LabelStartedAt     = "svclab.io/started-at"
)

// Start implements runtime.Runtime.
func (r *Runtime) Start(ctx context.Context, spec runtime.ContainerSpec) error {
	ctx = r.nsCtx(ctx)
	if err := r.EnsureImage(ctx, spec.Image); err != nil {
		return err
	}
	norm, _ := image.Normalize(spec.Image)
	img, err := r.client.GetImage(ctx, norm)
	if err != nil {
		return fmt.Errorf("start %s: %w", spec.ID, err)
	}
	labels := map[string]string{
		LabelPodUID: spec.PodUID, LabelPodName: spec.PodName, LabelPodNamespace: spec.PodNamespace, LabelContainerName: spec.ContainerName,
	}
	container, err := r.client.NewContainer(ctx, spec.ID,
		client.WithImage(img),
		client.WithSnapshotter(snapshotter),
		client.WithNewSnapshot(spec.ID, img),
		client.WithContainerLabels(labels),
		client.WithNewSpec(r.specOpts(img, spec)...),
	)
	if err != nil {
		return fmt.Errorf("create container %s: %w", spec.ID, err)
	}
	now, err := r.startTask(ctx, container, spec.LogPath)
	if err != nil {
		container.Delete(context.WithoutCancel(ctx), client.WithSnapshotCleanup)
		return fmt.Errorf("start container %s: %w", spec.ID, err)
	}
	r.mu.Lock()
	r.started[spec.ID] = now
	r.mu.Unlock()
	if _, err := container.SetLabels(ctx, map[string]string{LabelStartedAt: now.Format(time.RFC3339Nano)}); err != nil {
		r.log.Warn("cannot label container", "id", spec.ID, "err", err)
	}
	return nil
}

func (r *Runtime) specOpts(img client.Image, spec runtime.ContainerSpec) []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch { // the Kubernetes rules for command and args
	case len(spec.Command) > 0:
		opts = append(opts, oci.WithImageConfig(img), oci.WithProcessArgs(append(slices.Clone(spec.Command), spec.Args...)...))
	case len(spec.Args) > 0:
		opts = append(opts, oci.WithImageConfigArgs(img, spec.Args))
	default:
		opts = append(opts, oci.WithImageConfig(img))
	}
	env := slices.Clone(spec.Env)
	if spec.Hostname != "" {
		opts = append(opts, oci.WithHostname(spec.Hostname))
		env = append([]string{"HOSTNAME=" + spec.Hostname}, env...)
	}
	opts = append(opts, oci.WithEnv(env), oci.WithCgroup(r.cgroupParent()+"/"+spec.ID))
	if spec.NetNSPath != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: spec.NetNSPath}))
	} else {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
	}
	if spec.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(spec.WorkingDir))
	}
	if len(spec.Mounts) > 0 {
		var ms []specs.Mount
		for _, m := range spec.Mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			ms = append(ms, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath, Options: []string{"rbind", mode}})
		}
		opts = append(opts, oci.WithMounts(ms))
	}
	return opts
}

// startTask creates and starts the container's task and returns the time it was started
// (taken just before, so a process that exits at once never ends before it started).
func (r *Runtime) startTask(ctx context.Context, container client.Container, logPath string) (time.Time, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return time.Time{}, err
	}
	task, err := container.NewTask(ctx, cio.LogFile(logPath), r.withRuncRoot())
	if err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	if err := task.Start(ctx); err != nil {
		task.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
		return time.Time{}, err
	}
	return now, nil
}

// withRuncRoot keeps runc's state under the lab's state directory instead of
// /run/containerd/runc/<namespace>, so nothing of the lab is left in containerd's directories.
func (r *Runtime) withRuncRoot() client.NewTaskOpts {
	return func(ctx context.Context, c *client.Client, ti *client.TaskInfo) error {
		if ti.Options == nil {
			ti.Options = &options.Options{}
		}
		o, ok := ti.Options.(*options.Options)
		if !ok {
			return nil // another runtime's options: leave them alone
		}
		o.Root = r.runcRoot()
		return nil
	}
}

func (r *Runtime) load(ctx context.Context, id string) (client.Container, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("containerd: container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("containerd: load container %s: %w", id, err)
	}
	return c, nil
}

// Stop implements runtime.Runtime.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx = r.nsCtx(ctx)
	container, err := r.load(ctx, id)
	if err != nil {
		return err
	}
	task, err := container.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	waitCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	exited, err := task.Wait(waitCtx)
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if st, err := task.Status(ctx); err == nil && st.Status == client.Stopped {
		return nil
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: SIGTERM: %w", id, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var ctxErr error
	select {
	case <-exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	r.log.Debug("grace period over, killing", "id", id, "grace", grace)
	if err := task.Kill(context.WithoutCancel(ctx), syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: SIGKILL: %w", id, err)
	}
	select {
	case <-exited:
		return ctxErr
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: the task did not exit after SIGKILL", id)
	}
}

// Status implements runtime.Runtime.
func (r *Runtime) Status(ctx context.Context, id string) (runtime.Status, error) {
	ctx = r.nsCtx(ctx)
	container, err := r.load(ctx, id)
	if err != nil {
		return runtime.Status{}, err
	}
	var st runtime.Status
	r.mu.Lock()
	st.StartedAt = r.started[id]
	r.mu.Unlock()
	if st.StartedAt.IsZero() {
		if labels, err := container.Labels(ctx); err == nil {
			st.StartedAt, _ = time.Parse(time.RFC3339Nano, labels[LabelStartedAt])
		}
	}
	task, err := container.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		st.State = runtime.StateCreated
		return st, nil
	}
	if err != nil {
		return runtime.Status{}, fmt.Errorf("status of %s: %w", id, err)
	}
	ts, err := task.Status(ctx)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("status of %s: %w", id, err)
	}
	switch ts.Status {
	case client.Running, client.Paused, client.Pausing:
		st.State, st.PID = runtime.StateRunning, int(task.Pid())
	case client.Created:
		st.State = runtime.StateCreated
	case client.Stopped:
		st.State, st.ExitCode, st.FinishedAt = runtime.StateExited, int(ts.ExitStatus), ts.ExitTime
		st.Reason = "Completed"
		if st.ExitCode != 0 {
			st.Reason = "Error"
		}
	default:
		st.State = runtime.StateUnknown
	}
	return st, nil
}

// Remove implements runtime.Runtime.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	ctx = r.nsCtx(ctx)
	container, err := r.load(ctx, id)
	if err != nil {
		return err
	}
	if task, err := container.Task(ctx, nil); err == nil {
		if st, err := task.Status(ctx); err == nil && st.Status != client.Stopped && st.Status != client.Created {
			return fmt.Errorf("remove %s: container is %s", id, st.Status)
		}
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove %s: delete task: %w", id, err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	if err := container.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	r.mu.Lock()
	delete(r.started, id)
	r.mu.Unlock()
	return nil
}

// List implements runtime.Runtime.
func (r *Runtime) List(ctx context.Context) ([]string, error) {
	cs, err := r.client.Containers(r.nsCtx(ctx))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID())
	}
	slices.Sort(ids)
	return ids, nil
}
