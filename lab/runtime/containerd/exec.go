package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"

	"github.com/svclab/svclab/lab/runtime"
)

// Exec implements runtime.Runtime: the command runs in the container with its process
// settings (env, user, cwd); its FIFOs live in the lab's state directory.
func (r *Runtime) Exec(ctx context.Context, id string, req runtime.ExecRequest) (int, error) {
	ctx = r.nsCtx(ctx)
	container, err := r.load(ctx, id)
	if err != nil {
		return -1, err
	}
	task, err := container.Task(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("exec in %s: container is not running: %w", id, err)
	}
	if st, err := task.Status(ctx); err != nil || st.Status != client.Running {
		return -1, fmt.Errorf("exec in %s: container is not running (%s)", id, st.Status)
	}
	if len(req.Cmd) == 0 {
		return -1, fmt.Errorf("exec in %s: no command", id)
	}
	spec, err := container.Spec(ctx)
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	pspec := *spec.Process
	pspec.Args = req.Cmd
	pspec.Terminal = req.TTY

	stdout, stderr := req.Stdout, req.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var proc client.Process
	var stdin io.Reader
	started := make(chan struct{}) // closed once proc is set and started (or failed)
	var startedOnce sync.Once
	markStarted := func() { startedOnce.Do(func() { close(started) }) }
	defer markStarted()
	if req.Stdin != nil {
		// containerd closes the process's stdin only when told to, after ours ended.
		stdin = &stdinCloser{r: req.Stdin, close: func() {
			<-started
			if proc != nil {
				proc.CloseIO(context.WithoutCancel(ctx), client.WithStdinCloser)
			}
		}}
	}
	ioOpts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr), cio.WithFIFODir(r.fifoDir())}
	if req.TTY {
		ioOpts = append(ioOpts, cio.WithTerminal)
	}
	execID := "exec-" + randomHex()
	p, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(ioOpts...))
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer p.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
	exited, err := p.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := p.Start(ctx); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	proc = p
	markStarted()
	var status client.ExitStatus
	select {
	case status = <-exited:
	case <-ctx.Done():
		p.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		<-exited
		return -1, fmt.Errorf("exec in %s: %w", id, ctx.Err())
	}
	p.IO().Wait() // all output copied
	code, _, err := status.Result()
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	return int(code), nil
}

type stdinCloser struct {
	r     io.Reader
	close func()
	once  sync.Once
}

func (s *stdinCloser) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.once.Do(s.close)
	}
	return n, err
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
