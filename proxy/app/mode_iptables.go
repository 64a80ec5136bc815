package app

import (
	"context"
	"log/slog"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/iptables"
	"github.com/svclab/svclab/proxy/ipvs"
)

func init() {
	register("iptables", Mode{
		New: func(_ context.Context, cfg proxy.Config, _ *Config, log *slog.Logger) (proxy.Proxier, error) {
			return iptables.New(cfg, &ipt.Exec{}, log)
		},
		Cleanup: func(ctx context.Context, _ proxy.Config, _ *slog.Logger) error {
			return iptables.CleanupRules(ctx, &ipt.Exec{})
		},
	})
	register("ipvs", Mode{
		New: func(_ context.Context, cfg proxy.Config, c *Config, log *slog.Logger) (proxy.Proxier, error) {
			return ipvs.NewKernel(cfg, ipvs.Options{Scheduler: c.IPVS.Scheduler}, log)
		},
		Cleanup: func(ctx context.Context, _ proxy.Config, log *slog.Logger) error {
			return ipvs.CleanupKernel(ctx, log)
		},
	})
}
