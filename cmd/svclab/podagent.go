package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/svclab/svclab/lab/podagent"
)

type podAgentFlags struct {
	listenHost    string
	httpPort      int
	tcpPort       int
	udpPort       int
	version       string
	ready         bool
	failFile      string
	shutdownDelay time.Duration
	shutdownGrace time.Duration
}

func newPodAgentCmd() *cobra.Command {
	f := &podAgentFlags{}
	cmd := &cobra.Command{
		Use:   "pod-agent",
		Short: "Run the built-in image's HTTP/TCP/UDP echo agent (what svclab.local/agent pods run)",
		Long: `Serve HTTP, TCP echo and UDP echo, answering with the pod name, namespace, pod IP, node,
version and client address, so Service traffic shows which pod answered.

HTTP: GET / (any path; JSON with Accept: application/json or /json), /healthz, /readyz,
POST /ready?value=false|true, POST /fail-liveness, /echo (headers and body), /sleep?d=1s,
/status/503. TCP and UDP: send "hello", get "pod=... echo=hello".

Identity comes from the downward API environment (POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME),
the version from SVCLAB_IMAGE_VERSION; ports from HTTP_PORT, TCP_PORT, UDP_PORT. Flags win over
the environment. On SIGTERM readiness fails at once, the agent keeps serving for
--shutdown-delay, then finishes in-flight requests and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			verbose, _ := cmd.Flags().GetBool("verbose")
			return runPodAgent(cmd.Context(), newLogger(verbose), f, cmd.Flags())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listenHost, "address", "", "address to listen on (default: all addresses)")
	fl.IntVar(&f.httpPort, "http-port", podagent.DefaultHTTPPort, "HTTP port (env HTTP_PORT)")
	fl.IntVar(&f.tcpPort, "tcp-port", podagent.DefaultTCPPort, "TCP echo port, 0 disables (env TCP_PORT)")
	fl.IntVar(&f.udpPort, "udp-port", podagent.DefaultUDPPort, "UDP echo port, 0 disables (env UDP_PORT)")
	fl.StringVar(&f.version, "version-label", podagent.DefaultVersion, "version to report (env SVCLAB_IMAGE_VERSION)")
	fl.BoolVar(&f.ready, "ready", true, "initial readiness; switch with POST /ready?value=true|false")
	fl.StringVar(&f.failFile, "liveness-fail-file", "", "fail /healthz while this file exists")
	fl.DurationVar(&f.shutdownDelay, "shutdown-delay", 0, "keep serving this long after SIGTERM while reporting not ready (env SHUTDOWN_DELAY)")
	fl.DurationVar(&f.shutdownGrace, "shutdown-grace", podagent.DefaultShutdownGrace, "how long in-flight requests may finish after the delay")
	return cmd
}

// podAgentOptions layers the environment over the defaults and changed flags over both.
func podAgentOptions(log *slog.Logger, f *podAgentFlags, changed func(string) bool, lookup func(string) (string, bool)) (podagent.Options, error) {
	opts, err := podagent.OptionsFromEnv(lookup)
	if err != nil {
		return opts, err
	}
	opts.Log = log
	opts.ListenHost = f.listenHost
	opts.Ready = f.ready
	opts.LivenessFailFile = f.failFile
	opts.ShutdownGrace = f.shutdownGrace
	overrides := []struct {
		flag  string
		apply func()
	}{
		{"http-port", func() { opts.HTTPPort = f.httpPort }},
		{"tcp-port", func() { opts.TCPPort = f.tcpPort }},
		{"udp-port", func() { opts.UDPPort = f.udpPort }},
		{"version-label", func() { opts.Identity.Version = f.version }},
		{"shutdown-delay", func() { opts.ShutdownDelay = f.shutdownDelay }},
	}
	for _, o := range overrides {
		if changed(o.flag) {
			o.apply()
		}
	}
	return opts, nil
}

func runPodAgent(ctx context.Context, log *slog.Logger, f *podAgentFlags, flags *pflag.FlagSet) error {
	opts, err := podAgentOptions(log.With("component", "pod-agent"), f, flags.Changed, os.LookupEnv)
	if err != nil {
		return err
	}
	return podagent.Run(ctx, opts)
}
