package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

// containerArgs applies the Kubernetes rules: Command replaces the entrypoint (and drops the
// image's cmd), Args replaces the cmd.
func containerArgs(cfg image.Config, command, args []string) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, cfg.Entrypoint...), args...)
	default:
		return append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	}
}

// mergeEnv returns base with each KEY=VALUE of over replacing or appending.
func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		key, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if k, _, _ := strings.Cut(old, "="); k == key {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func mountsValue(ms []runtime.Mount) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		p := m.HostPath + ":" + m.ContainerPath
		if m.ReadOnly {
			p += ":ro"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ",")
}

// resolve maps a program name to the file to run: /svclab (or svclab) is the svclab binary,
// an absolute path is a host program, and a bare name is looked up in the container's PATH
// on the host.
func (r *Runtime) resolve(name string, env []string) (string, error) {
	switch {
	case name == image.BinaryPath || name == filepath.Base(image.BinaryPath):
		return r.binary, nil
	case filepath.IsAbs(name):
		if err := executable(name); err != nil {
			return "", err
		}
		return name, nil
	case strings.Contains(name, "/"):
		return "", fmt.Errorf("program %q: relative paths are not supported by the process runtime", name)
	}
	path := image.DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if p := filepath.Join(dir, name); executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %q not found in PATH %s", name, path)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("program %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("program %s is not executable", p)
	}
	return nil
}
