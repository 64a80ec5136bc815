package process

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"syscall"

	"github.com/svclab/svclab/lab/runtime"
)

// Exec implements runtime.Runtime: the command runs in the container's network namespace with
// its environment and working directory; /svclab is the svclab binary, other programs are the
// host's. TTY is ignored.
func (r *Runtime) Exec(ctx context.Context, id string, req runtime.ExecRequest) (int, error) {
	c, err := r.get(id)
	if err != nil {
		return -1, err
	}
	select {
	case <-c.done:
		return -1, fmt.Errorf("process runtime: exec in %s: container is not running", id)
	default:
	}
	if c.cmd == nil || len(req.Cmd) == 0 {
		return -1, fmt.Errorf("process runtime: exec in %s: container is not running or no command", id)
	}
	path, err := r.resolve(req.Cmd[0], c.env)
	if err != nil {
		return -1, fmt.Errorf("process runtime: exec in %s: %w", id, err)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        slices.Clone(req.Cmd),
		Env:         append(slices.Clone(c.env), CookieEnv+"="+r.cookie(id)+"/exec"),
		Dir:         c.cmd.Dir,
		Stdin:       req.Stdin,
		Stdout:      req.Stdout,
		Stderr:      req.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := startInNetNS(c.spec.NetNSPath, cmd); err != nil {
		return -1, fmt.Errorf("process runtime: exec in %s: %w", id, err)
	}
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return -1, fmt.Errorf("process runtime: exec in %s: %w", id, err)
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("process runtime: exec in %s: %w", id, ctx.Err())
	}
	code, _ := exitStatus(cmd.ProcessState)
	return code, nil
}
