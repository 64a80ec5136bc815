package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// DefaultStateRoot holds every lab's state: <root>/<lab>/network/ for this package.
const DefaultStateRoot = "/run/svclab"

// Option configures New and Teardown.
type Option func(*options) error

type options struct {
	kernel    Kernel
	stateRoot string
	log       *slog.Logger
}

// WithKernel replaces the real kernel (NewKernel) — with networktest.Kernel in unit tests.
func WithKernel(k Kernel) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("WithKernel: nil Kernel")
		}
		o.kernel = k
		return nil
	}
}

// WithStateRoot sets the state root (DefaultStateRoot): the lab's network state lives in
// <root>/<lab>/network (plan, namespaces it created, each node's IPAM file).
func WithStateRoot(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("WithStateRoot: empty directory")
		}
		o.stateRoot = dir
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		o.log = l
		return nil
	}
}

func buildOptions(opts []Option) (options, error) {
	o := options{stateRoot: DefaultStateRoot, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if o.kernel == nil {
		o.kernel = NewKernel(o.stateRoot)
	}
	return o, nil
}

// labStateDir is <root>/<lab>/network.
func labStateDir(root, lab string) string { return filepath.Join(root, lab, "network") }

// recordNetNS notes, before creating it, that the lab owns a namespace name, so Teardown
// tells it from another lab's namespace with a similar name.
func recordNetNS(dir, name string) error {
	path := filepath.Join(dir, "netns", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("record namespace %s: %w", name, err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		return fmt.Errorf("record namespace %s: %w", name, err)
	}
	return nil
}

func forgetNetNS(dir, name string) {
	os.Remove(filepath.Join(dir, "netns", name))
}

// recordedNetNS lists the namespace names recorded in dir.
func recordedNetNS(dir string) map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(dir, "netns"))
	for _, e := range entries {
		out[e.Name()] = true
	}
	return out
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path atomically (write a temporary file, then rename).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
