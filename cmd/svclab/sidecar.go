package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/lab/sidecar"
)

type sidecarFlags struct {
	listen   string
	admin    string
	upstream string
	name     string
	retries  int
}

func newSidecarCmd() *cobra.Command {
	f := &sidecarFlags{}
	cmd := &cobra.Command{
		Use:   "sidecar",
		Short: "Run a tiny service-mesh style proxy in front of an app in the same pod",
		Long: `Listen on --listen and pass every HTTP request to the app at --upstream (normally on the
pod's loopback), the way a service mesh's sidecar proxy (Envoy, linkerd2-proxy) does: each
request gets an X-Request-Id (unless it has one) and an X-Svclab-Sidecar header naming this
proxy, idempotent requests are retried when the app cannot be reached, one access log line
per request goes to stdout, and --admin serves /stats (Prometheus text) and /healthz.`,
		Example: `  # in a pod whose app listens on 127.0.0.1:80; the Service targets port 15001
  /svclab sidecar --listen :15001 --upstream http://127.0.0.1:80 --admin :15000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			verbose, _ := cmd.Flags().GetBool("verbose")
			return runSidecar(cmd.Context(), newLogger(verbose), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", sidecar.DefaultListen, "address clients (the Service) connect to")
	fl.StringVar(&f.admin, "admin", sidecar.DefaultAdmin, `metrics (/stats) and /healthz address ("" disables)`)
	fl.StringVar(&f.upstream, "upstream", sidecar.DefaultUpstream, "the app this proxy fronts")
	fl.StringVar(&f.name, "proxy-name", "", "name in the X-Svclab-Sidecar header (default: $POD_NAME, else the hostname)")
	fl.IntVar(&f.retries, "retries", sidecar.DefaultRetries, "extra tries of an idempotent request when the app cannot be reached")
	return cmd
}

func runSidecar(ctx context.Context, log *slog.Logger, f *sidecarFlags) error {
	name := f.name
	for _, env := range []string{"POD_NAME", "SVCLAB_POD_NAME", "HOSTNAME"} {
		if name == "" {
			name = os.Getenv(env)
		}
	}
	if name == "" {
		name, _ = os.Hostname()
	}
	return sidecar.Run(ctx, sidecar.Options{
		Listen: f.listen, Admin: f.admin, Upstream: f.upstream, Name: name, Retries: f.retries,
		AccessLog: os.Stdout, Log: log.With("component", "sidecar"),
	})
}
