package dns

import (
	"net"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are CoreDNS's request metrics under their names, so dashboards and course text
// for CoreDNS apply.
type Metrics struct {
	requests  *prometheus.CounterVec
	responses *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "requests_total",
			Help: "Counter of DNS requests made per zone, protocol and family.",
		}, []string{"server", "zone", "proto", "family", "type"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "responses_total",
			Help: "Counter of response status codes.",
		}, []string{"server", "zone", "rcode", "plugin"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "request_duration_seconds",
			Help:    "Histogram of the time (in seconds) each request took.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
		}, []string{"server", "zone", "type"}),
	}
	reg.MustRegister(m.requests, m.responses, m.duration)
	return m
}

func (m *Metrics) observe(server, zone, proto string, remote net.Addr, r, resp *dns.Msg, plugin string, d time.Duration) {
	family := "1"
	var ip net.IP
	switch a := remote.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	}
	if ip != nil && ip.To4() == nil {
		family = "2"
	}
	qtype := "other"
	if len(r.Question) == 1 {
		qtype = typeLabel(r.Question[0].Qtype)
	}
	m.requests.WithLabelValues(server, zone, proto, family, qtype).Inc()
	m.responses.WithLabelValues(server, zone, dns.RcodeToString[resp.Rcode], plugin).Inc()
	m.duration.WithLabelValues(server, zone, qtype).Observe(d.Seconds())
}

// typeLabel keeps the type label's cardinality bounded, as CoreDNS does.
func typeLabel(t uint16) string {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypePTR, dns.TypeCNAME, dns.TypeMX, dns.TypeNS,
		dns.TypeSOA, dns.TypeTXT, dns.TypeANY, dns.TypeHTTPS, dns.TypeSVCB:
		return dns.TypeToString[t]
	}
	return "other"
}
