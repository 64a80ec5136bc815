package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/runtime/containerd"
	"github.com/svclab/svclab/lab/runtime/process"
)

// Down removes the lab named name: it stops its process if one runs (which tears the lab
// down itself), then removes whatever is left — containers, processes, namespaces, links,
// routes, state. It is idempotent and works after a crash or kill -9.
func Down(ctx context.Context, name string, log *slog.Logger) error {
	if os.Geteuid() != 0 {
		return errors.New("svclab down needs root (run `sudo svclab down`)")
	}
	if err := network.ValidateLabName(name); err != nil {
		return err
	}
	paths := PathsFor(name)
	if pid, alive := paths.RunningPID(); alive && pid != os.Getpid() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(45 * time.Second)
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return cleanup(ctx, name, log, false)
}

// cleanup removes everything of a lab found by name, whatever state it is in.
// keepLog keeps the log file (`up --detach` writes it before the lab starts).
func cleanup(ctx context.Context, name string, log *slog.Logger, keepLog bool) error {
	paths := PathsFor(name)
	var errs []error
	opts := Options{Name: name, Log: log}
	if err := containerd.CleanupLab(ctx, containerdOptions(opts, paths)); err != nil {
		errs = append(errs, fmt.Errorf("clean up containerd: %w", err))
	}
	if pr, err := process.New(name, filepath.Join(paths.Dir, "process"), log); err == nil {
		if err := pr.Cleanup(ctx); err != nil {
			errs = append(errs, fmt.Errorf("clean up pod processes: %w", err))
		}
	}
	if err := network.Teardown(ctx, name, network.WithLogger(log)); err != nil {
		errs = append(errs, fmt.Errorf("remove the lab network: %w", err))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if keepLog {
		entries, _ := os.ReadDir(paths.Dir)
		for _, e := range entries {
			if e.Name() != "log" {
				if err := os.RemoveAll(filepath.Join(paths.Dir, e.Name())); err != nil {
					return err
				}
			}
		}
	} else if err := os.RemoveAll(paths.Dir); err != nil {
		return err
	}
	_ = os.RemoveAll(filepath.Join("/var/lib/svclab", name))
	_ = os.Remove("/var/lib/svclab")
	_ = os.Remove(StateRoot)
	return nil
}
