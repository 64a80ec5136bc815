package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/spf13/cobra"

	clusterdns "github.com/svclab/svclab/proxy/dns"
)

type dnsFlags struct {
	kubeconfig    string
	listen        string
	metricsAddr   string
	clusterDomain string
	resolvConf    string
	serviceCIDR   string
}

func newDNSCmd() *cobra.Command {
	f := &dnsFlags{}
	cmd := &cobra.Command{
		Use:   "dns",
		Short: "Run svclab's cluster DNS (what the kube-system/coredns Deployment runs)",
		Long: `Answer the cluster domain from Services and EndpointSlices as CoreDNS's kubernetes
plugin does (A/AAAA, headless Services, SRV for named ports, pod records, PTR, ExternalName as
CNAME, NXDOMAIN with an SOA), TTL 5 s, and forward every other name to the resolvers of
--resolv-conf (skipping those inside --service-cidr), failing with SERVFAIL within 2 s when
none answers. Metrics with CoreDNS's names, /health and /ready are on --metrics-bind-address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			verbose, _ := cmd.Flags().GetBool("verbose")
			return runDNS(cmd.Context(), newLogger(verbose).With("component", "dns"), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster service account)")
	fl.StringVar(&f.listen, "listen", ":53", "UDP and TCP address to serve DNS on")
	fl.StringVar(&f.metricsAddr, "metrics-bind-address", ":9153", "metrics, /health and /ready address (empty: off)")
	fl.StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	fl.StringVar(&f.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolvers for names outside the cluster")
	fl.StringVar(&f.serviceCIDR, "service-cidr", "10.96.0.0/12", "Service network; resolvers inside it are skipped to avoid loops")
	return cmd
}

func runDNS(ctx context.Context, log *slog.Logger, f *dnsFlags) error {
	cidr, err := netip.ParsePrefix(f.serviceCIDR)
	if err != nil {
		return fmt.Errorf("--service-cidr %q: %w", f.serviceCIDR, err)
	}
	return clusterdns.Run(ctx, clusterdns.Options{
		Kubeconfig: f.kubeconfig, Listen: f.listen, MetricsAddr: f.metricsAddr,
		ClusterDomain: f.clusterDomain, ResolvConf: f.resolvConf, ServiceCIDR: cidr, Log: log,
	})
}
