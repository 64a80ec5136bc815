package dnstest

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Service returns a ClusterIP Service (clusterIP "None" for a headless one) with the
// given ports ("http:80/TCP", or ":80/UDP" for an unnamed port).
func Service(ns, name, clusterIP string, ports ...string) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP},
	}
	if clusterIP != corev1.ClusterIPNone {
		s.Spec.ClusterIPs = []string{clusterIP}
	}
	for _, p := range ports {
		name, rest, _ := strings.Cut(p, ":")
		num, proto, _ := strings.Cut(rest, "/")
		var n int32
		_, _ = fmt.Sscan(num, &n)
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: name, Port: n, Protocol: corev1.Protocol(proto)})
	}
	return s
}

// ExternalName returns an ExternalName Service pointing at target.
func ExternalName(ns, name, target string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target},
	}
}

// Endpoint is one endpoint of a Slice.
type Endpoint struct {
	IP       string
	Hostname string
	NotReady bool
}

// Slice returns an EndpointSlice of Service ns/svc with the endpoints and the ports
// ("http:8080/TCP").
func Slice(ns, name, svc string, eps []Endpoint, ports ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{Addresses: []string{e.IP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(!e.NotReady)}}
		if e.Hostname != "" {
			ep.Hostname = ptr.To(e.Hostname)
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	for _, p := range ports {
		name, rest, _ := strings.Cut(p, ":")
		num, proto, _ := strings.Cut(rest, "/")
		var n int32
		_, _ = fmt.Sscan(num, &n)
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(n), Protocol: ptr.To(corev1.Protocol(proto))})
	}
	return s
}

// Forwarder is a fake upstream: names ending in ".example." get an A record from
// 203.0.113.0/24, other names NXDOMAIN; with Fail set every query fails.
type Forwarder struct {
	Fail    error
	Queries []string // "name TYPE" of each forwarded query
}

// Forward answers r.
func (f *Forwarder) Forward(_ context.Context, r *dns.Msg) (*dns.Msg, error) {
	q := r.Question[0]
	f.Queries = append(f.Queries, q.Name+" "+dns.TypeToString[q.Qtype])
	if f.Fail != nil {
		return nil, f.Fail
	}
	m := new(dns.Msg).SetReply(r)
	m.RecursionAvailable = true
	if !strings.HasSuffix(strings.ToLower(q.Name), ".example.") {
		m.Rcode = dns.RcodeNameError
		return m, nil
	}
	if q.Qtype == dns.TypeA {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(203, 0, 113, 7)})
	}
	return m, nil
}
