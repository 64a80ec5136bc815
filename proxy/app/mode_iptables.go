package app

import (
	"context"
	"log/slog"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/iptables"
)

func init() {
	register("iptables", Mode{
		New: func(_ context.Context, cfg proxy.Config, _ *Config, log *slog.Logger) (proxy.Proxier, error) {
			return iptables.New(cfg, &ipt.Exec{}, log)
		},
		Cleanup: func(ctx context.Context, cfg proxy.Config, log *slog.Logger) error {
			p, err := iptables.New(cfg, &ipt.Exec{}, log)
			if err != nil {
				return err
			}
			return p.Cleanup(ctx)
		},
	})
}
