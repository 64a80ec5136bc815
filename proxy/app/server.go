package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/svclab/svclab/lab/podpath"
	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/conntrack"
)

// labelSelector is upstream's: Services handled by another proxy, and headless Services,
// are not watched.
const labelSelector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"

// TableHandlerer is implemented by modes that serve their own table for the tracer (the
// userspace proxy).
type TableHandlerer interface {
	TableHandler() http.Handler
}

// Run is kube-proxy: it programs this node until ctx is done.
func Run(ctx context.Context, c *Config, log *slog.Logger) error {
	c.Defaults()
	if err := c.Validate(); err != nil {
		return err
	}
	mode, ok := modes[c.Mode]
	if !ok {
		return fmt.Errorf("proxy mode %q is not available in this build", c.Mode)
	}
	restCfg, err := podpath.ClientConfig(c.ClientConnection.Kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	nodeName := c.HostnameOverride
	if nodeName == "" {
		if nodeName, err = os.Hostname(); err != nil {
			return err
		}
	}
	log = log.With("node", nodeName, "mode", c.Mode)
	nodeIPs, err := waitNodeIPs(ctx, client, nodeName, log)
	if err != nil {
		return err
	}
	cfg := proxy.Config{NodeName: nodeName, NodeIPs: nodeIPs, MasqueradeBit: int(*c.IPTables.MasqueradeBit), MasqueradeAll: c.IPTables.MasqueradeAll}
	if c.ClusterCIDR != "" {
		if cfg.ClusterCIDR, err = netip.ParsePrefix(c.ClusterCIDR); err != nil {
			return fmt.Errorf("clusterCIDR %q: %w", c.ClusterCIDR, err)
		}
	}
	for _, s := range c.NodePortAddresses {
		if s == "primary" {
			for _, ip := range nodeIPs[:1] {
				cfg.NodePortAddresses = append(cfg.NodePortAddresses, netip.PrefixFrom(ip, ip.BitLen()))
			}
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("nodePortAddresses %q: %w", s, err)
		}
		cfg.NodePortAddresses = append(cfg.NodePortAddresses, p)
	}

	log.Info("Using "+c.Mode+" Proxier", "masqueradeMark", cfg.MasqueradeMark(), "clusterCIDR", cfg.ClusterCIDR, "nodeIPs", nodeIPs)
	if err := cleanupOtherModes(ctx, c.Mode, cfg, log); err != nil {
		log.Warn("Failed to clean up the rules of other proxy modes", "err", err)
	}
	proxier, err := mode.New(ctx, cfg, c, log)
	if err != nil {
		return err
	}
	metrics := newMetrics()
	runner := &proxy.Runner{
		Proxier: proxier, Flusher: conntrack.Exec{}, Observer: metrics, Log: log,
		MinInterval: c.IPTables.MinSyncPeriod.Duration, FullInterval: c.IPTables.SyncPeriod.Duration,
	}
	runner.Tracker = proxy.NewTracker(nodeName, runner.Notify)

	srv, err := serveMetrics(c.MetricsBindAddress, c.Mode, metrics, proxier)
	if err != nil {
		return err
	}
	defer srv.Close()
	hz, err := serveHealthz(c.HealthzBindAddress, metrics)
	if err != nil {
		return err
	}
	defer hz.Close()

	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = labelSelector }))
	svcInformer := factory.Core().V1().Services().Informer()
	sliceInformer := factory.Discovery().V1().EndpointSlices().Informer()
	tr := runner.Tracker
	_, _ = svcInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { tr.OnServiceAdd(o.(*corev1.Service)) },
		UpdateFunc: func(old, o any) { tr.OnServiceUpdate(old.(*corev1.Service), o.(*corev1.Service)) },
		DeleteFunc: func(o any) {
			if svc, ok := tombstone[*corev1.Service](o); ok {
				tr.OnServiceDelete(svc)
			}
		},
	})
	_, _ = sliceInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { tr.OnEndpointSliceUpdate(o.(*discoveryv1.EndpointSlice)) },
		UpdateFunc: func(_, o any) { tr.OnEndpointSliceUpdate(o.(*discoveryv1.EndpointSlice)) },
		DeleteFunc: func(o any) {
			if s, ok := tombstone[*discoveryv1.EndpointSlice](o); ok {
				tr.OnEndpointSliceDelete(s)
			}
		},
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcInformer.HasSynced, sliceInformer.HasSynced) {
		return ctx.Err()
	}
	runner.Run(ctx)
	return nil
}

func tombstone[T any](o any) (T, bool) {
	if t, ok := o.(T); ok {
		return t, true
	}
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		t, ok := d.Obj.(T)
		return t, ok
	}
	var zero T
	return zero, false
}

// waitNodeIPs returns the node's InternalIPs (IPv4), waiting for the Node to exist like
// upstream does.
func waitNodeIPs(ctx context.Context, client kubernetes.Interface, name string, log *slog.Logger) ([]netip.Addr, error) {
	var ips []netip.Addr
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			log.Info("Waiting for the node", "err", err)
			return false, nil
		}
		ips = nil
		for _, a := range node.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				ips = append(ips, ip)
			}
		}
		return len(ips) > 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %q has no IPv4 InternalIP (is --hostname-override the node's name?): %w", name, err)
	}
	return ips, nil
}
