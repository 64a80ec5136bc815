package ingress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/svclab/svclab/lab/podpath"
)

// Component is the source of the controller's Events.
const Component = "svclab-ingress"

// Options configure Run.
type Options struct {
	Kubeconfig     string               // empty: the in-cluster service account (paths translated with podpath)
	Client         kubernetes.Interface // set by tests instead of Kubeconfig
	HTTPAddr       string               // default ":80"
	HTTPSAddr      string               // default ":443"; empty string "-": no HTTPS listener
	MetricsAddr    string               // /metrics, /healthz; empty: none
	Class          string               // IngressClass name, default "svclab"
	PublishService string               // "ns/name" whose LoadBalancer status is copied to Ingresses
	HTTPSPort      int                  // port in HTTP→HTTPS redirects; default: HTTPSAddr's port
	AccessLog      *AccessLog           // nil: none
	Recorder       record.EventRecorder // nil: Events through the API
	Log            *slog.Logger
	// OnListening, when set, is called with the bound HTTP and HTTPS addresses (tests listen
	// on port 0; https is nil without an HTTPS listener).
	OnListening func(http, https net.Addr)
}

func (o *Options) defaults() error {
	if o.HTTPAddr == "" {
		o.HTTPAddr = ":80"
	}
	if o.HTTPSAddr == "" {
		o.HTTPSAddr = ":443"
	}
	if o.Class == "" {
		o.Class = "svclab"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.PublishService != "" && !strings.Contains(o.PublishService, "/") {
		return fmt.Errorf("--publish-service %q: want namespace/name", o.PublishService)
	}
	return nil
}

// Run serves Ingresses of the class until ctx is done.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	client := o.Client
	if client == nil {
		cfg, err := podpath.ClientConfig(o.Kubeconfig)
		if err != nil {
			return err
		}
		if client, err = kubernetes.NewForConfig(cfg); err != nil {
			return err
		}
	}
	rec := o.Recorder
	if rec == nil {
		b := record.NewBroadcaster(record.WithContext(ctx))
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		defer b.Shutdown()
		rec = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component})
	}
	certs, err := NewCertificates()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	eps := &EndpointMap{}
	httpl, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w", o.HTTPAddr, err)
	}
	defer httpl.Close()
	var httpsl net.Listener
	if o.HTTPSAddr != "-" {
		if httpsl, err = net.Listen("tcp", o.HTTPSAddr); err != nil {
			return fmt.Errorf("listen for HTTPS on %s: %w", o.HTTPSAddr, err)
		}
		defer httpsl.Close()
		if o.HTTPSPort == 0 {
			o.HTTPSPort = httpsl.Addr().(*net.TCPAddr).Port
		}
	}
	h := NewHandler(eps, HandlerOptions{HTTPSPort: o.HTTPSPort, Metrics: NewMetrics(reg), AccessLog: o.AccessLog, Log: o.Log})
	defer h.CloseIdleConnections()
	defer o.AccessLog.Close() // after the servers' shutdown: the last lines are written

	factory := informers.NewSharedInformerFactory(client, 0)
	c := &controller{
		client: client, class: o.Class, publish: o.PublishService, rec: rec, log: o.Log,
		handler: h, certs: certs, eps: eps, trigger: make(chan struct{}, 1),
		ingresses: factory.Networking().V1().Ingresses().Lister(),
		classes:   factory.Networking().V1().IngressClasses().Lister(),
		services:  factory.Core().V1().Services().Lister(),
		slices:    factory.Discovery().V1().EndpointSlices().Lister(),
		secrets:   factory.Core().V1().Secrets().Lister(),
		nodes:     factory.Core().V1().Nodes().Lister(),
		reported:  map[string]bool{},
	}
	poke := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.poke() },
		UpdateFunc: func(any, any) { c.poke() },
		DeleteFunc: func(any) { c.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		factory.Networking().V1().Ingresses().Informer(), factory.Networking().V1().IngressClasses().Informer(),
		factory.Core().V1().Services().Informer(), factory.Discovery().V1().EndpointSlices().Informer(),
		factory.Core().V1().Secrets().Informer(), factory.Core().V1().Nodes().Informer(),
	} {
		_, _ = inf.AddEventHandler(poke)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("sync the %v informer: check the service account's RBAC", typ)
		}
	}
	c.sync(ctx)

	servers := []*http.Server{newServer(h)}
	listeners := []net.Listener{httpl}
	if httpsl != nil {
		s := newServer(h)
		s.TLSConfig = certs.TLSConfig()
		servers = append(servers, s)
		listeners = append(listeners, httpsl)
	}
	if o.MetricsAddr != "" {
		ml, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen for metrics on %s: %w", o.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		servers = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, ml)
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() {
			if s.TLSConfig != nil {
				errc <- s.ServeTLS(listeners[i], "", "")
				return
			}
			errc <- s.Serve(listeners[i])
		}()
	}
	var httpsAddr net.Addr
	if httpsl != nil {
		httpsAddr = httpsl.Addr()
	}
	o.Log.Info("Serving Ingresses", "class", o.Class, "http", httpl.Addr(), "https", httpsAddr, "metrics", o.MetricsAddr)
	if o.OnListening != nil {
		o.OnListening(httpl.Addr(), httpsAddr)
	}

	go c.loop(ctx)
	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve ingress: %w", err)
	}
	return nil
}

// newServer is an ingress listener's server with nginx-like limits: 10 s for the request
// headers, 64 KiB of them, 75 s keep-alive idle.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       75 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// syncDelay coalesces bursts of changes (a rollout updates many slices) into one rebuild.
const syncDelay = 100 * time.Millisecond

func (c *controller) poke() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

func (c *controller) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(syncDelay):
		}
		c.sync(ctx)
	}
}

// secret looks a Secret up in the informer cache.
func (c *controller) secret(n types.NamespacedName) (*corev1.Secret, bool) {
	s, err := c.secrets.Secrets(n.Namespace).Get(n.Name)
	return s, err == nil
}
