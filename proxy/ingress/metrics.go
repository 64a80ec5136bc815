package ingress

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's request metrics, labelled like ingress-nginx's
// nginx_ingress_controller_requests.
type Metrics struct {
	requests *prometheus.CounterVec
	upstream *prometheus.HistogramVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svclab", Subsystem: "ingress", Name: "requests_total",
			Help: "Requests by the matched rule's host and path, the Ingress, the Service and the status code.",
		}, []string{"host", "path", "namespace", "ingress", "service", "status"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "svclab", Subsystem: "ingress", Name: "upstream_latency_seconds",
			Help:    "Time until the upstream endpoint's response headers, by Ingress and Service.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"namespace", "ingress", "service"}),
	}
	reg.MustRegister(m.requests, m.upstream)
	return m
}
