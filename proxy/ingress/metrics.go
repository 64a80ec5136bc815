package ingress

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's request metrics, labelled like ingress-nginx's
// nginx_ingress_controller_requests.
type Metrics struct {
	requests *prometheus.CounterVec
	upstream *prometheus.HistogramVec
	routes   sync.Map // routeLabels → *routeMetrics
}

// routeLabels are the labels of a rule's series but the status.
type routeLabels struct{ host, path, namespace, ingress, service string }

// routeMetrics caches a rule's series, so a request costs a map lookup instead of
// hashing and checking six label values.
type routeMetrics struct {
	m        *Metrics
	labels   routeLabels
	upstream prometheus.Observer
	statuses sync.Map // int → prometheus.Counter
}

// route returns the cached series of a rule.
func (m *Metrics) route(l routeLabels) *routeMetrics {
	if r, ok := m.routes.Load(l); ok {
		return r.(*routeMetrics)
	}
	r, _ := m.routes.LoadOrStore(l, &routeMetrics{m: m, labels: l, upstream: m.upstream.WithLabelValues(l.namespace, l.ingress, l.service)})
	return r.(*routeMetrics)
}

// observe counts a request with status and, when an upstream answered, its latency.
func (r *routeMetrics) observe(status int, upstream bool, seconds float64) {
	c, ok := r.statuses.Load(status)
	if !ok {
		l := r.labels
		c, _ = r.statuses.LoadOrStore(status, r.m.requests.WithLabelValues(l.host, l.path, l.namespace, l.ingress, l.service, strconv.Itoa(status)))
	}
	c.(prometheus.Counter).Inc()
	if upstream {
		r.upstream.Observe(seconds)
	}
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
