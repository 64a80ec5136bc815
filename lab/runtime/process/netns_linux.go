package process

import (
	"fmt"
	"os/exec"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// startInNetNS starts cmd inside the network namespace at nsPath (the current one when empty).
//
// A child inherits the namespaces of the thread that forks it, so the fork happens on a
// dedicated, locked OS thread that first joins the namespace with setns(2). The goroutine
// returns without unlocking: the Go runtime then ends that thread instead of reusing it, so no
// other goroutine ever runs in the pod's namespace. No helper process or re-exec is needed.
func startInNetNS(nsPath string, cmd *exec.Cmd) error {
	if nsPath == "" {
		return cmd.Start()
	}
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer unix.Close(fd)
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// No UnlockOSThread: see above.
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("join network namespace %s: %w", nsPath, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// waitExitNoReap blocks until process pid has exited, leaving it a zombie (WNOWAIT).
func waitExitNoReap(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}
