package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/nftables"
	"github.com/svclab/svclab/proxy/userspace"
)

func init() {
	register("nftables", Mode{
		New: func(_ context.Context, cfg proxy.Config, _ *Config, log *slog.Logger) (proxy.Proxier, error) {
			return nftables.NewKernel(cfg, log)
		},
		Cleanup: func(ctx context.Context, _ proxy.Config, _ *slog.Logger) error {
			err := nftables.CleanupLeftovers(ctx)
			if errors.Is(err, nftables.ErrUnsupported) {
				return nil // no nftables here: nothing of this mode can exist
			}
			return err
		},
	})
	register("userspace", Mode{
		New: func(_ context.Context, cfg proxy.Config, _ *Config, log *slog.Logger) (proxy.Proxier, error) {
			return userspace.New(cfg, &ipt.Exec{}, userspace.Options{}, log)
		},
		Cleanup: func(ctx context.Context, _ proxy.Config, _ *slog.Logger) error {
			return userspace.CleanupRules(ctx, &ipt.Exec{})
		},
	})
}
