package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/svclab/svclab/proxy"
)

// Mode is one data plane mode as the program sees it.
type Mode struct {
	// New makes the mode's Proxier for this node; it fails fast (with the fix in the
	// message) when the kernel or a tool the mode needs is missing.
	New func(ctx context.Context, cfg proxy.Config, c *Config, log *slog.Logger) (proxy.Proxier, error)
	// Cleanup removes whatever the mode may have left on this node, like
	// `kube-proxy --cleanup`; it must work when New would fail.
	Cleanup func(ctx context.Context, cfg proxy.Config, log *slog.Logger) error
}

var modes = map[string]Mode{}

// register adds a mode; modes_*.go files call it from init.
func register(name string, m Mode) { modes[name] = m }

// cleanupOtherModes removes every other mode's rules so modes never mix.
func cleanupOtherModes(ctx context.Context, keep string, cfg proxy.Config, log *slog.Logger) error {
	var errs []error
	for _, name := range Modes {
		m, ok := modes[name]
		if name == keep || !ok || m.Cleanup == nil {
			continue
		}
		if err := m.Cleanup(ctx, cfg, log); err != nil {
			errs = append(errs, fmt.Errorf("clean up %s mode: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// CleanupAll removes the rules of every mode (`svclab kube-proxy --cleanup`).
func CleanupAll(ctx context.Context, log *slog.Logger) error {
	return cleanupOtherModes(ctx, "", proxy.Config{MasqueradeBit: proxy.DefaultMasqueradeBit}, log)
}
