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
			// Bound to the node's address, the portal rules DNAT there (upstream's rule for
			// a proxy with a bind address); REDIRECT would need an address on the pod's
			// veth, which the lab's point-to-point pod links do not have.
			return userspace.New(cfg, &ipt.Exec{}, userspace.Options{ListenIP: cfg.NodeIPs[0]}, log)
		},
		Cleanup: func(ctx context.Context, _ proxy.Config, _ *slog.Logger) error {
			return userspace.CleanupRules(ctx, &ipt.Exec{})
		},
	})
}
