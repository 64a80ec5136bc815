package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// StateRoot holds every lab's runtime state: /run/svclab/<lab>/.
const StateRoot = "/run/svclab"

// Paths are the files of one lab.
type Paths struct {
	Dir string
}

// PathsFor returns the state paths of the lab named name.
func PathsFor(name string) Paths { return Paths{Dir: filepath.Join(StateRoot, name)} }

func (p Paths) PIDFile() string      { return filepath.Join(p.Dir, "pid") }
func (p Paths) LogFile() string      { return filepath.Join(p.Dir, "log") }
func (p Paths) Kubeconfig() string   { return filepath.Join(p.Dir, "kubeconfig") }
func (p Paths) ReadyFile() string    { return filepath.Join(p.Dir, "ready") }
func (p Paths) APIServerDir() string { return filepath.Join(p.Dir, "apiserver") }
func (p Paths) NodesDir() string     { return filepath.Join(p.Dir, "nodes") }
func (p Paths) RuntimeFile() string  { return filepath.Join(p.Dir, "runtime") }
func (p Paths) InfoFile() string     { return filepath.Join(p.Dir, "info.json") }

// RunningPID returns the pid of the lab's process when one is alive.
func (p Paths) RunningPID() (int, bool) {
	data, err := os.ReadFile(p.PIDFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if !processAlive(pid) {
		return pid, false
	}
	// A recycled pid belongs to some other program: only a svclab process counts.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "svclab") {
		return pid, false
	}
	return pid, true
}

// Exists reports whether anything of the lab is left on disk.
func (p Paths) Exists() bool {
	entries, err := os.ReadDir(p.Dir)
	if err != nil {
		return false
	}
	// The log file alone is what `up --detach` creates before the lab starts.
	for _, e := range entries {
		if e.Name() != "log" {
			return true
		}
	}
	return false
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ValidateName checks a lab name: lower-case letters, digits and '-', at most 20.
func ValidateName(name string) error {
	if name == "" || len(name) > 20 {
		return fmt.Errorf("lab name %q: use 1-20 characters", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(name)-1
		if !ok {
			return fmt.Errorf("lab name %q: use lower-case letters, digits and '-' (not first or last)", name)
		}
	}
	return nil
}
