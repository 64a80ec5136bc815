package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/proxy/dns/dnstest"
	"github.com/svclab/svclab/proxy/proxytest"
)

// testIndex is the cluster every answer test runs against (dnstest's address plan).
func testIndex() *Index {
	x := NewIndex()
	x.now = func() time.Time { return time.Unix(1700000000, 0) }
	for _, ns := range []string{"default", "kube-system", "empty"} {
		x.SetNamespace(ns)
	}
	x.SetService(dnstest.Service("default", "web", "10.96.0.20", "http:80/TCP", "metrics:9090/TCP"))
	x.SetEndpointSlice(dnstest.Slice("default", "web-abc", "web", []dnstest.Endpoint{{IP: "10.244.1.5"}, {IP: "10.244.2.6"}}, "http:8080/TCP", "metrics:9090/TCP"))
	x.SetService(dnstest.Service("kube-system", "kube-dns", "10.96.0.10", "dns:53/UDP", "dns-tcp:53/TCP", "metrics:9153/TCP"))
	x.SetService(dnstest.Service("default", "db", corev1.ClusterIPNone, "pg:5432/TCP"))
	x.SetEndpointSlice(dnstest.Slice("default", "db-1", "db", []dnstest.Endpoint{
		{IP: "10.244.1.7", Hostname: "db-0"}, {IP: "10.244.2.8", Hostname: "db-1"}, {IP: "10.244.2.9", NotReady: true},
	}, "pg:5432/TCP"))
	x.SetEndpointSlice(dnstest.Slice("default", "db-2", "db", []dnstest.Endpoint{{IP: "10.244.1.10"}}, "pg:5432/TCP"))
	x.SetService(dnstest.Service("default", "nobody", corev1.ClusterIPNone, "http:80/TCP"))
	x.SetService(dnstest.ExternalName("default", "search", "www.example"))
	x.SetService(dnstest.ExternalName("default", "alias", "web.default.svc.cluster.local"))
	x.SetService(dnstest.ExternalName("default", "loop", "loop.default.svc.cluster.local."))
	return x
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.Id = 1
	return m
}

// TestAnswers is the golden table of every record kind: each query's response as text.
func TestAnswers(t *testing.T) {
	queries := []struct {
		name  string
		qtype uint16
	}{
		// ClusterIP Services.
		{"web.default.svc.cluster.local.", dns.TypeA},
		{"WEB.Default.svc.cluster.local.", dns.TypeA},
		{"web.default.svc.cluster.local.", dns.TypeAAAA},
		{"web.default.svc.cluster.local.", dns.TypeTXT},
		{"web.default.svc.cluster.local.", dns.TypeSRV},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV},
		{"_http._udp.web.default.svc.cluster.local.", dns.TypeSRV},
		{"_dns._udp.kube-dns.kube-system.svc.cluster.local.", dns.TypeSRV},
		{"10-244-1-5.web.default.svc.cluster.local.", dns.TypeA},
		// Headless Services: ready endpoints only, hostnames, SRV per endpoint.
		{"db.default.svc.cluster.local.", dns.TypeA},
		{"db-0.db.default.svc.cluster.local.", dns.TypeA},
		{"10-244-1-10.db.default.svc.cluster.local.", dns.TypeA},
		{"10-244-2-9.db.default.svc.cluster.local.", dns.TypeA},
		{"_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV},
		{"nobody.default.svc.cluster.local.", dns.TypeA},
		// Pods.
		{"10-244-1-5.default.pod.cluster.local.", dns.TypeA},
		{"10-244-1-5.default.pod.cluster.local.", dns.TypeAAAA},
		{"not-an-ip.default.pod.cluster.local.", dns.TypeA},
		// ExternalName: CNAME, followed inside the cluster and through the forwarder.
		{"search.default.svc.cluster.local.", dns.TypeA},
		{"search.default.svc.cluster.local.", dns.TypeCNAME},
		{"alias.default.svc.cluster.local.", dns.TypeA},
		{"loop.default.svc.cluster.local.", dns.TypeA},
		// Names that do not exist, and names that exist with no data.
		{"missing.default.svc.cluster.local.", dns.TypeA},
		{"web.nosuchns.svc.cluster.local.", dns.TypeA},
		{"a.b.c.d.web.default.svc.cluster.local.", dns.TypeA},
		{"web.default.cluster.local.", dns.TypeA},
		{"default.svc.cluster.local.", dns.TypeA},
		{"empty.svc.cluster.local.", dns.TypeA},
		{"nosuchns.svc.cluster.local.", dns.TypeA},
		{"svc.cluster.local.", dns.TypeA},
		{"cluster.local.", dns.TypeSOA},
		{"cluster.local.", dns.TypeNS},
		// Reverse: ClusterIPs, endpoints, and unknown addresses falling through.
		{"20.0.96.10.in-addr.arpa.", dns.TypePTR},
		{"7.1.244.10.in-addr.arpa.", dns.TypePTR},
		{"5.1.244.10.in-addr.arpa.", dns.TypePTR},
		{"99.0.96.10.in-addr.arpa.", dns.TypePTR},
		// Other names go to the forwarder.
		{"www.example.", dns.TypeA},
		{"nothing.invalid.", dns.TypeA},
	}
	h := NewHandler(testIndex(), "cluster.local", &dnstest.Forwarder{}, nil)
	var out strings.Builder
	for _, q := range queries {
		rec := dnstest.NewRecorder()
		r := query(q.name, q.qtype)
		r.RecursionDesired = true
		rcode, err := h.ServeDNS(context.Background(), rec, r)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		if rcode != rec.Msg.Rcode || rec.Msg.Id != 1 {
			t.Errorf("%s: returned rcode %d, wrote %d with id %d", q.name, rcode, rec.Msg.Rcode, rec.Msg.Id)
		}
		fmt.Fprintf(&out, "=== %s %s\n%s\n", q.name, dns.TypeToString[q.qtype], dnstest.Format(rec.Msg))
	}
	proxytest.Golden(t, "answers", out.String())
}

// TestChangesAreVisibleAtOnce checks that index updates reach the next answer: scaling a
// headless Service and switching a Service from ExternalName to ClusterIP.
func TestChangesAreVisibleAtOnce(t *testing.T) {
	x := testIndex()
	h := NewHandler(x, "cluster.local", &dnstest.Forwarder{}, nil)
	ask := func(name string) string {
		rec := dnstest.NewRecorder()
		if _, err := h.ServeDNS(context.Background(), rec, query(name, dns.TypeA)); err != nil {
			t.Fatal(err)
		}
		var ips []string
		for _, rr := range rec.Msg.Answer {
			if a, ok := rr.(*dns.A); ok {
				ips = append(ips, a.A.String())
			}
		}
		return dns.RcodeToString[rec.Msg.Rcode] + " " + strings.Join(ips, ",")
	}
	x.SetEndpointSlice(dnstest.Slice("default", "db-2", "db", []dnstest.Endpoint{{IP: "10.244.1.10"}, {IP: "10.244.1.11"}}, "pg:5432/TCP"))
	if got, want := ask("db.default.svc.cluster.local."), "NOERROR 10.244.1.7,10.244.1.10,10.244.1.11,10.244.2.8"; got != want {
		t.Errorf("after scaling up: %s, want %s", got, want)
	}
	x.DeleteEndpointSlice("default", "db-1")
	x.DeleteEndpointSlice("default", "db-2")
	if got, want := ask("db.default.svc.cluster.local."), "NXDOMAIN "; got != want {
		t.Errorf("after scaling to zero: %q, want %q", got, want)
	}
	if got, want := ask("search.default.svc.cluster.local."), "NOERROR 203.0.113.7"; got != want {
		t.Errorf("ExternalName: %s, want %s", got, want)
	}
	x.SetService(dnstest.Service("default", "search", "10.96.0.30", "http:80/TCP"))
	if got, want := ask("search.default.svc.cluster.local."), "NOERROR 10.96.0.30"; got != want {
		t.Errorf("after the switch to ClusterIP: %s, want %s", got, want)
	}
	x.DeleteService("default", "search")
	if got, want := ask("search.default.svc.cluster.local."), "NXDOMAIN "; got != want {
		t.Errorf("after delete: %q, want %q", got, want)
	}
}

// TestTruncation checks the TC bit over UDP (512 bytes, or the EDNS0 size) and the full
// answer over TCP for a headless Service with many endpoints.
func TestTruncation(t *testing.T) {
	x := testIndex()
	var eps []dnstest.Endpoint
	for i := range 200 {
		eps = append(eps, dnstest.Endpoint{IP: fmt.Sprintf("10.244.%d.%d", 3+i/250, i%250+1)})
	}
	x.SetService(dnstest.Service("default", "big", corev1.ClusterIPNone, "http:80/TCP"))
	x.SetEndpointSlice(dnstest.Slice("default", "big-1", "big", eps, "http:80/TCP"))
	h := NewHandler(x, "cluster.local", nil, nil)
	tests := []struct {
		name     string
		rec      *dnstest.Recorder
		edns     uint16
		wantTC   bool
		wantAll  bool
		maxBytes int
	}{
		{name: "udp", rec: dnstest.NewRecorder(), wantTC: true, maxBytes: 512},
		{name: "udp edns0 4096", rec: dnstest.NewRecorder(), edns: 4096, wantAll: true, maxBytes: 4096},
		{name: "udp edns0 1232", rec: dnstest.NewRecorder(), edns: 1232, wantTC: true, maxBytes: 1232},
		{name: "tcp", rec: dnstest.NewTCPRecorder(), wantAll: true, maxBytes: dns.MaxMsgSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := query("big.default.svc.cluster.local.", dns.TypeA)
			if tt.edns != 0 {
				r.SetEdns0(tt.edns, false)
			}
			if _, err := h.ServeDNS(context.Background(), tt.rec, r); err != nil {
				t.Fatal(err)
			}
			m := tt.rec.Msg
			if m.Truncated != tt.wantTC || (len(m.Answer) == 200) != tt.wantAll || tt.rec.Len > tt.maxBytes {
				t.Errorf("tc=%v answers=%d bytes=%d", m.Truncated, len(m.Answer), tt.rec.Len)
			}
			if tt.edns != 0 && m.IsEdns0() == nil {
				t.Errorf("no OPT record in the reply to an EDNS0 query")
			}
		})
	}
}

// TestForwardFailureIsServfail checks that an unreachable upstream gives SERVFAIL, for a
// forwarded name and not for cluster names.
func TestForwardFailureIsServfail(t *testing.T) {
	fwd := &dnstest.Forwarder{Fail: errors.New("connection refused")}
	h := NewHandler(testIndex(), "cluster.local", fwd, nil)
	for name, want := range map[string]int{
		"www.example.":                       dns.RcodeServerFailure,
		"web.default.svc.cluster.local.":     dns.RcodeSuccess,
		"search.default.svc.cluster.local.":  dns.RcodeSuccess, // the CNAME alone
		"missing.default.svc.cluster.local.": dns.RcodeNameError,
	} {
		rec := dnstest.NewRecorder()
		got, _ := h.ServeDNS(context.Background(), rec, query(name, dns.TypeA))
		if got != want {
			t.Errorf("%s: %s, want %s", name, dns.RcodeToString[got], dns.RcodeToString[want])
		}
	}
	if h := NewHandler(testIndex(), "cluster.local", nil, nil); true {
		rec := dnstest.NewRecorder()
		if got, _ := h.ServeDNS(context.Background(), rec, query("www.example.", dns.TypeA)); got != dns.RcodeServerFailure {
			t.Errorf("no forwarder: %s", dns.RcodeToString[got])
		}
	}
}

func TestReverseAddr(t *testing.T) {
	for name, want := range map[string]string{
		"20.0.96.10.in-addr.arpa.": "10.96.0.20",
		mustReverse("2001:db8::1"): "2001:db8::1",
		"0.96.10.in-addr.arpa.":    "invalid IP",
		"300.0.96.10.in-addr.arpa": "invalid IP",
		"example.":                 "invalid IP",
	} {
		a, _ := reverseAddr(name)
		if a.String() != want {
			t.Errorf("reverseAddr(%s) = %s, want %s", name, a, want)
		}
	}
}

func mustReverse(ip string) string {
	s, err := dns.ReverseAddr(ip)
	if err != nil {
		panic(err)
	}
	return s
}
