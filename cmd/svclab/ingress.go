package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/proxy/ingress"
)

type ingressFlags struct {
	kubeconfig     string
	httpAddr       string
	httpsAddr      string
	metricsAddr    string
	class          string
	publishService string
	accessLog      bool
}

func newIngressCmd() *cobra.Command {
	f := &ingressFlags{}
	cmd := &cobra.Command{
		Use:   "ingress",
		Short: "Run svclab's Ingress controller (what the ingress-svclab Deployment runs)",
		Long: `Serve networking.k8s.io/v1 Ingresses of --ingress-class (IngressClass controller
svclab.io/ingress; Ingresses without a class too when that IngressClass is the default) as a
reverse proxy: host and path rules per the Ingress spec, round robin over ready endpoints from
EndpointSlices, TLS from kubernetes.io/tls Secrets chosen by SNI (a self-signed certificate for
other names), HTTP to HTTPS redirects for TLS hosts. Ingress status gets the LoadBalancer
address of --publish-service, or the nodes' InternalIPs. Access log lines go to stdout
(buffered, written within a second); metrics and /healthz are on --metrics-bind-address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			verbose, _ := cmd.Flags().GetBool("verbose")
			return runIngress(cmd.Context(), newLogger(verbose).With("component", "ingress"), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster service account)")
	fl.StringVar(&f.httpAddr, "http", ":80", "HTTP listen address")
	fl.StringVar(&f.httpsAddr, "https", ":443", "HTTPS listen address (\"-\": none)")
	fl.StringVar(&f.metricsAddr, "metrics-bind-address", ":10254", "metrics and /healthz address (empty: off)")
	fl.StringVar(&f.class, "ingress-class", "svclab", "IngressClass to serve")
	fl.StringVar(&f.publishService, "publish-service", "", "namespace/name of the Service whose LoadBalancer address goes into Ingress status")
	fl.BoolVar(&f.accessLog, "access-log", true, "write an access log line per request to stdout")
	return cmd
}

func runIngress(ctx context.Context, log *slog.Logger, f *ingressFlags) error {
	o := ingress.Options{
		Kubeconfig: f.kubeconfig, HTTPAddr: f.httpAddr, HTTPSAddr: f.httpsAddr, MetricsAddr: f.metricsAddr,
		Class: f.class, PublishService: f.publishService, Log: log,
	}
	if f.accessLog {
		o.AccessLog = ingress.NewAccessLog(os.Stdout)
	}
	return ingress.Run(ctx, o)
}
