package persistence

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel SIGKILL cmd when the test process dies (a panic or a
// `go test -timeout` leaves no chance to run t.Cleanup).
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
