package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/svclab/svclab/proxy"
)

// metrics are upstream kube-proxy's sync metrics, with the same names.
type metrics struct {
	// synced is set after the first successful sync: /healthz answers 503 until then, so
	// a readiness probe (and `kubectl rollout status`) waits for the rules.
	synced      atomic.Bool
	reg         *prometheus.Registry
	duration    prometheus.Histogram
	last        prometheus.Gauge
	programming prometheus.Histogram
	failures    prometheus.Counter
}

func newMetrics() *metrics {
	buckets := prometheus.ExponentialBuckets(0.001, 2, 15)
	m := &metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: "kubeproxy", Name: "sync_proxy_rules_duration_seconds",
			Help: "SyncProxyRules latency in seconds", Buckets: buckets}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Subsystem: "kubeproxy", Name: "sync_proxy_rules_last_timestamp_seconds",
			Help: "The last time proxy rules were successfully synced"}),
		programming: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: "kubeproxy", Name: "network_programming_duration_seconds",
			Help:    "In Cluster Network Programming Latency in seconds",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20)}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Subsystem: "kubeproxy", Name: "sync_proxy_rules_iptables_restore_failures_total",
			Help: "Cumulative proxy rules restore failures"}),
	}
	m.reg.MustRegister(m.duration, m.last, m.programming, m.failures)
	return m
}

var _ proxy.SyncObserver = (*metrics)(nil)

// Synced implements proxy.SyncObserver.
func (m *metrics) Synced(d time.Duration, err error, programming time.Duration) {
	m.duration.Observe(d.Seconds())
	if err != nil {
		m.failures.Inc()
		return
	}
	m.last.SetToCurrentTime()
	m.synced.Store(true)
	if programming > 0 {
		m.programming.Observe(programming.Seconds())
	}
}

// serveMetrics serves /metrics, /healthz, /livez, /proxyMode (as upstream) and the
// userspace proxy's /userspace table.
func serveMetrics(addr, mode string, m *metrics, p proxy.Proxier) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", m.healthz)
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/proxyMode", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, mode) })
	if t, isTable := p.(TableHandlerer); isTable {
		mux.Handle("/userspace", t.TableHandler())
	}
	return serve(addr, "metrics", mux)
}

// healthz is upstream's: 200 once the rules are programmed, 503 before.
func (m *metrics) healthz(w http.ResponseWriter, _ *http.Request) {
	if !m.synced.Load() {
		http.Error(w, "proxy rules not synced yet", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// serveHealthz serves /healthz and /livez on the healthz address (upstream 0.0.0.0:10256),
// which probes reach on the node's address.
func serveHealthz(addr string, m *metrics) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", m.healthz)
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return serve(addr, "healthz", mux)
}

func serve(addr, what string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s address %s: %w (set %sBindAddress or --%s-bind-address)", what, addr, err, what, what)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err
		}
	}()
	return srv, nil
}
