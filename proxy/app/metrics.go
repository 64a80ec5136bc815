package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/svclab/svclab/proxy"
)

// metrics are upstream kube-proxy's sync metrics, with the same names.
type metrics struct {
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
	if programming > 0 {
		m.programming.Observe(programming.Seconds())
	}
}

// serveMetrics serves /metrics, /healthz, /livez, /proxyMode (as upstream) and the
// userspace proxy's /userspace table.
func serveMetrics(addr, mode string, m *metrics, p proxy.Proxier) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/livez", ok)
	mux.HandleFunc("/proxyMode", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, mode) })
	if t, isTable := p.(TableHandlerer); isTable {
		mux.Handle("/userspace", t.TableHandler())
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w (set metricsBindAddress or --metrics-bind-address)", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err
		}
	}()
	return srv, nil
}
