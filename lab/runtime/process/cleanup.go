package process

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cleanup implements runtime.Runtime: it kills every process carrying the lab's cookie
// (containers, their children and exec'd commands, also those of a crashed svclab), waits
// for them to die and removes the state directory. Log files are left alone.
func (r *Runtime) Cleanup(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := LabProcesses(r.lab)
		if err != nil {
			return fmt.Errorf("process runtime: cleanup: %w", err)
		}
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			r.log.Debug("killing lab process", "pid", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process runtime: cleanup: processes %v survive SIGKILL", pids)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process runtime: cleanup: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	r.mu.Lock()
	var waits []chan struct{}
	for id, c := range r.containers {
		if c.cmd != nil {
			waits = append(waits, c.done)
		}
		delete(r.containers, id)
	}
	r.mu.Unlock()
	for _, done := range waits {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	if err := os.RemoveAll(r.stateDir); err != nil {
		return fmt.Errorf("process runtime: cleanup: %w", err)
	}
	return nil
}

// LabProcesses returns the live (non-zombie) processes whose environment carries lab's
// cookie (CookieEnv=<lab>/...). Residue checks use it too.
func LabProcesses(lab string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	want := []byte(CookieEnv + "=" + lab + "/")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !hasEnvEntry(env, want) || isZombie(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func hasEnvEntry(environ, prefix []byte) bool {
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if bytes.HasPrefix(kv, prefix) {
			return true
		}
	}
	return false
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses and may contain spaces.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}
