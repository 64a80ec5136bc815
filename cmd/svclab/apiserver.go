package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/spf13/cobra"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	apiserver "github.com/svclab/svclab/apiserver-lite"
	"github.com/svclab/svclab/lab/controller"
)

type apiserverFlags struct {
	listen        string
	dataDir       string
	kubeconfigOut string
	serviceCIDR   string
	nodePortRange string
	noControllers bool
}

func newAPIServerCmd(logger func() *slog.Logger) *cobra.Command {
	f := &apiserverFlags{}
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "Run the Kubernetes-compatible API server and the node-less controllers in the foreground",
		Long: `Run svclab's API server (HTTPS, client-certificate kubeconfig, embedded etcd) and the
controllers that need no nodes (deployments, replica sets, daemon sets, endpoints,
endpoint slices, namespaces, garbage collection). No root needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAPIServer(cmd.Context(), logger(), f, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:6443", "HTTPS address; port 0 picks a free port (the kubeconfig says which)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "directory for state, certificates and keys (required)")
	cmd.Flags().StringVar(&f.kubeconfigOut, "kubeconfig-out", "", "where to write the admin kubeconfig (default DATA-DIR/kubeconfig)")
	cmd.Flags().StringVar(&f.serviceCIDR, "service-cluster-ip-range", "10.96.0.0/12", "CIDR ClusterIPs are allocated from")
	cmd.Flags().StringVar(&f.nodePortRange, "service-node-port-range", "30000-32767", "port range NodePorts are allocated from")
	cmd.Flags().BoolVar(&f.noControllers, "no-controllers", false, "run the API server only")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

func apiserverOptions(log *slog.Logger, f *apiserverFlags) (apiserver.Options, error) {
	opts := apiserver.DefaultOptions()
	opts.Log = log
	opts.Listen = f.listen
	opts.DataDir = f.dataDir
	opts.KubeconfigOut = f.kubeconfigOut
	cidr, err := netip.ParsePrefix(f.serviceCIDR)
	if err != nil {
		return opts, fmt.Errorf("--service-cluster-ip-range %q: %w", f.serviceCIDR, err)
	}
	opts.ServiceClusterIPRange = cidr
	pr, err := utilnet.ParsePortRange(f.nodePortRange)
	if err != nil {
		return opts, fmt.Errorf("--service-node-port-range %q: %w", f.nodePortRange, err)
	}
	opts.ServiceNodePortRange = *pr
	return opts, nil
}

func runAPIServer(ctx context.Context, log *slog.Logger, f *apiserverFlags, out interface{ Write([]byte) (int, error) }) error {
	opts, err := apiserverOptions(log, f)
	if err != nil {
		return err
	}
	srv, err := apiserver.New(ctx, opts)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	if err := srv.WaitReady(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "API server ready at %s\nkubeconfig: %s\ntry: kubectl --kubeconfig %s get namespaces\n", srv.URL, srv.KubeconfigPath, srv.KubeconfigPath)
	if !f.noControllers {
		go func() {
			if err := controller.Run(ctx, srv.AdminConfig, log.With("component", "controller-manager"), controller.Options{RootCA: srv.Bundle.CAPEM}); err != nil {
				log.Error("controllers stopped", "err", err)
			}
		}()
	}
	return <-errc
}
