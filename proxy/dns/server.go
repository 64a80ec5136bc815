package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Options configure Run.
type Options struct {
	Kubeconfig    string               // empty: the in-cluster service account
	Client        kubernetes.Interface // set by tests instead of Kubeconfig
	Listen        string               // UDP and TCP, default ":53"
	MetricsAddr   string               // /metrics, /health and /ready; empty: none
	ClusterDomain string               // default "cluster.local"
	ResolvConf    string               // default /etc/resolv.conf (translated with podpath)
	ServiceCIDR   netip.Prefix         // resolvers inside it are skipped; default 10.96.0.0/12
	Upstreams     []string             // "host:port" resolvers used instead of ResolvConf's
	Log           *slog.Logger
	// OnListening, when set, is called with the bound UDP and TCP addresses (tests listen
	// on port 0).
	OnListening func(udp, tcp net.Addr)
}

func (o *Options) defaults() {
	if o.Listen == "" {
		o.Listen = ":53"
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.ResolvConf == "" {
		o.ResolvConf = "/etc/resolv.conf"
	}
	if !o.ServiceCIDR.IsValid() {
		o.ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// cacheSyncWait is how long Run waits for the informers before serving anyway, as
// CoreDNS does.
const cacheSyncWait = 5 * time.Second

// Run serves cluster DNS until ctx is done.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	log := o.Log
	client := o.Client
	if client == nil {
		cfg, err := clientConfig(o.Kubeconfig)
		if err != nil {
			return err
		}
		if client, err = kubernetes.NewForConfig(cfg); err != nil {
			return err
		}
	}
	upstreams, err := o.Upstreams, error(nil)
	if upstreams == nil {
		upstreams, err = UpstreamsFromResolvConf(hostPath(o.ResolvConf), o.ServiceCIDR)
	}
	if err != nil {
		log.Warn("No upstream resolvers: names outside the cluster get SERVFAIL", "err", err)
	} else if len(upstreams) == 0 {
		log.Warn("No upstream resolvers outside the service network: names outside the cluster get SERVFAIL", "resolvConf", o.ResolvConf)
	}

	idx := NewIndex()
	reg := prometheus.NewRegistry()
	h := NewHandler(idx, o.ClusterDomain, &Upstream{Servers: upstreams}, log)
	h.Metrics = NewMetrics(reg)
	h.Server = "dns://" + o.Listen

	factory := informers.NewSharedInformerFactory(client, 0)
	watch(factory, idx)
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	var ready atomic.Bool
	syncCtx, cancel := context.WithTimeout(ctx, cacheSyncWait)
	synced := factory.WaitForCacheSync(syncCtx.Done())
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	all := true
	for _, ok := range synced {
		all = all && ok
	}
	if !all {
		log.Warn("Starting with unsynced Kubernetes API", "synced", fmt.Sprint(synced))
	}
	ready.Store(all)
	go func() {
		// Namespaces may be forbidden; Services and EndpointSlices decide readiness.
		factory.WaitForCacheSync(ctx.Done())
		ready.Store(true)
	}()

	if o.MetricsAddr != "" {
		srv, err := serveMetrics(o.MetricsAddr, reg, &ready)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	udp, tcp, err := listen(o.Listen)
	if err != nil {
		return err
	}
	handler := h.ServeDNSFunc(ctx)
	servers := []*dns.Server{{PacketConn: udp, Handler: handler}, {Listener: tcp, Handler: handler}}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.ActivateAndServe() }()
	}
	log.Info("Serving cluster DNS", "udp", udp.LocalAddr(), "tcp", tcp.Addr(), "zone", h.Zone, "upstreams", upstreams)
	if o.OnListening != nil {
		o.OnListening(udp.LocalAddr(), tcp.Addr())
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	for _, s := range servers {
		_ = s.Shutdown()
	}
	if err != nil {
		return fmt.Errorf("serve DNS on %s: %w", o.Listen, err)
	}
	return nil
}

// watch feeds the index from the informers.
func watch(factory informers.SharedInformerFactory, idx *Index) {
	_, _ = factory.Core().V1().Services().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { idx.SetService(o.(*corev1.Service)) },
		UpdateFunc: func(_, o any) { idx.SetService(o.(*corev1.Service)) },
		DeleteFunc: func(o any) {
			if s, ok := tombstone[*corev1.Service](o); ok {
				idx.DeleteService(s.Namespace, s.Name)
			}
		},
	})
	_, _ = factory.Discovery().V1().EndpointSlices().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { idx.SetEndpointSlice(o.(*discoveryv1.EndpointSlice)) },
		UpdateFunc: func(_, o any) { idx.SetEndpointSlice(o.(*discoveryv1.EndpointSlice)) },
		DeleteFunc: func(o any) {
			if s, ok := tombstone[*discoveryv1.EndpointSlice](o); ok {
				idx.DeleteEndpointSlice(s.Namespace, s.Name)
			}
		},
	})
	_, _ = factory.Core().V1().Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { idx.SetNamespace(o.(*corev1.Namespace).Name) },
		UpdateFunc: func(_, o any) { idx.SetNamespace(o.(*corev1.Namespace).Name) },
		DeleteFunc: func(o any) {
			if n, ok := tombstone[*corev1.Namespace](o); ok {
				idx.DeleteNamespace(n.Name)
			}
		},
	})
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

// listen binds UDP and TCP on the same address; with port 0 it picks a port free for both,
// since clients retry a truncated answer over TCP on the port they asked.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	var errs []error
	for range 10 {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("listen on %s/udp: %w", addr, err)
		}
		p := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" {
			return nil, nil, fmt.Errorf("listen on %s/tcp: %w", addr, err)
		}
		errs = append(errs, err)
	}
	return nil, nil, fmt.Errorf("find a port free for UDP and TCP on %s: %w", host, errors.Join(errs...))
}

// serveMetrics serves Prometheus metrics, /health (alive) and /ready (informers synced),
// CoreDNS's endpoints on one port.
func serveMetrics(addr string, reg *prometheus.Registry, ready *atomic.Bool) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) })
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "informers not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("OK"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}
