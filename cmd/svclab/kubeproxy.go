package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/proxy/app"
)

type kubeProxyFlags struct {
	configFile string
	cfg        app.Config
	cleanup    bool
}

func newKubeProxyCmd() *cobra.Command {
	f := &kubeProxyFlags{}
	cmd := &cobra.Command{
		Use:   "kube-proxy",
		Short: "Run svclab's kube-proxy on this node (what the kube-system/kube-proxy DaemonSet runs)",
		Long: `Watch Services and EndpointSlices and program this node's kernel in one mode:
iptables, nftables, ipvs or userspace. It works against any cluster (--kubeconfig, or the
in-cluster service account). Settings come from a KubeProxyConfiguration file (--config, as
kubeadm's kube-proxy ConfigMap) and flags, flags winning. Starting in one mode first removes
every rule of the other modes, so modes never mix; --cleanup only removes them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKubeProxy(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "KubeProxyConfiguration file")
	fl.StringVar(&f.cfg.ClientConnection.Kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster service account)")
	fl.StringVar(&f.cfg.HostnameOverride, "hostname-override", "", "this node's name (default: the hostname)")
	fl.StringVar(&f.cfg.Mode, "proxy-mode", "", "iptables, nftables, ipvs or userspace (default iptables)")
	fl.StringVar(&f.cfg.IPVS.Scheduler, "ipvs-scheduler", "", "IPVS scheduler (default rr)")
	fl.StringVar(&f.cfg.ClusterCIDR, "cluster-cidr", "", "pod network; traffic from outside it to a ClusterIP is masqueraded")
	fl.StringSliceVar(&f.cfg.NodePortAddresses, "nodeport-addresses", nil, "CIDRs (or \"primary\") NodePorts answer on (default: all local addresses)")
	fl.StringVar(&f.cfg.MetricsBindAddress, "metrics-bind-address", "", "metrics, /healthz and /proxyMode address (default 127.0.0.1:10249)")
	fl.BoolVar(&f.cleanup, "cleanup", false, "remove the rules of every mode and exit")
	return cmd
}

func runKubeProxy(ctx context.Context, cmd *cobra.Command, f *kubeProxyFlags) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "kube-proxy")
	quietKlog(false)
	if f.cleanup {
		return app.CleanupAll(ctx, log)
	}
	c := &app.Config{}
	if f.configFile != "" {
		loaded, err := app.LoadConfig(f.configFile)
		if err != nil {
			return err
		}
		c = loaded
	}
	// Flags that were set win over the file.
	fl := cmd.Flags()
	set := func(name string, dst *string, v string) {
		if fl.Changed(name) {
			*dst = v
		}
	}
	set("kubeconfig", &c.ClientConnection.Kubeconfig, f.cfg.ClientConnection.Kubeconfig)
	set("hostname-override", &c.HostnameOverride, f.cfg.HostnameOverride)
	set("proxy-mode", &c.Mode, f.cfg.Mode)
	set("ipvs-scheduler", &c.IPVS.Scheduler, f.cfg.IPVS.Scheduler)
	set("cluster-cidr", &c.ClusterCIDR, f.cfg.ClusterCIDR)
	set("metrics-bind-address", &c.MetricsBindAddress, f.cfg.MetricsBindAddress)
	if fl.Changed("nodeport-addresses") {
		c.NodePortAddresses = f.cfg.NodePortAddresses
	}
	return app.Run(ctx, c, log)
}
