// Package proxytest builds Services, EndpointSlices and proxy.State for the proxy modes'
// unit tests, on one written-down address plan.
//
// Address plan (kube-proxy's own test plan, so upstream's test vectors carry over):
//
//	node under test   "node1", IP 192.168.0.2 (also 192.168.1.2 as a second address)
//	other nodes       "node2" 192.168.0.3, "node3" 192.168.0.4
//	cluster CIDR      10.0.0.0/8; pods of node1 are 10.180.0.0/24, of node2 10.180.1.0/24
//	service CIDR      172.30.0.0/16 (ClusterIPs 172.30.0.41, .42, ...)
//	external IPs      192.168.99.11 ...
//	load balancers    1.2.3.4, 5.6.7.8
//	outside clients   203.0.113.0/24 (never receive traffic)
//	masquerade bit    14 (mark 0x4000)
package proxytest

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/proxy"
)

// The address plan as values.
var (
	NodeName     = "node1"
	NodeIP       = netip.MustParseAddr("192.168.0.2")
	NodeIPAlt    = netip.MustParseAddr("192.168.1.2")
	OtherNodeIP  = netip.MustParseAddr("192.168.0.3")
	ClusterCIDR  = netip.MustParsePrefix("10.0.0.0/8")
	LocalPodCIDR = netip.MustParsePrefix("10.180.0.0/24")
	ExternalIP   = netip.MustParseAddr("192.168.99.11")
	LBIP         = netip.MustParseAddr("1.2.3.4")
	OutsideIP    = netip.MustParseAddr("203.0.113.9")
)

// Config is the proxy.Config of node1 on the address plan.
func Config() proxy.Config {
	return proxy.Config{
		NodeName:      NodeName,
		NodeIPs:       []netip.Addr{NodeIP, NodeIPAlt},
		ClusterCIDR:   ClusterCIDR,
		MasqueradeBit: proxy.DefaultMasqueradeBit,
	}
}

// Service returns a ClusterIP Service ns/name with clusterIP and one TCP port per
// (name, port) pair given as Port values; mutate adjusts it.
func Service(ns, name, clusterIP string, mutate ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  clusterIP,
			ClusterIPs: []string{clusterIP},
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

// Port adds a port to a Service: Port("p80", 80, "TCP").
func Port(name string, port int32, protocol corev1.Protocol) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: name, Port: port, Protocol: protocol, TargetPort: intstr.FromInt32(port),
		})
	}
}

// NodePort makes the Service type NodePort and sets nodePort on its last port.
func NodePort(nodePort int32) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		if svc.Spec.Type == corev1.ServiceTypeClusterIP {
			svc.Spec.Type = corev1.ServiceTypeNodePort
		}
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		svc.Spec.Ports[len(svc.Spec.Ports)-1].NodePort = nodePort
	}
}

// LoadBalancer makes the Service type LoadBalancer with the given ingress IPs.
func LoadBalancer(ips ...string) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		for _, ip := range ips {
			svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
	}
}

// ExternalLocal sets externalTrafficPolicy: Local and a health check node port.
func ExternalLocal(healthCheckNodePort int32) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		svc.Spec.HealthCheckNodePort = healthCheckNodePort
	}
}

// InternalLocal sets internalTrafficPolicy: Local.
func InternalLocal(svc *corev1.Service) {
	svc.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
}

// Affinity sets sessionAffinity: ClientIP with the given timeout.
func Affinity(timeoutSeconds int32) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		svc.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
			ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(timeoutSeconds)},
		}
	}
}

// ExternalIPs sets spec.externalIPs.
func ExternalIPs(ips ...string) func(*corev1.Service) {
	return func(svc *corev1.Service) { svc.Spec.ExternalIPs = ips }
}

// EP is one endpoint for Slice: its IP, node and conditions.
type EP struct {
	IP          string
	Node        string
	NotReady    bool
	Terminating bool // also serving
}

// Slice returns an IPv4 EndpointSlice for Service ns/svc with one port (name, port,
// protocol) and the given endpoints.
func Slice(ns, svc, portName string, port int32, protocol corev1.Protocol, eps ...EP) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: svc + "-" + portName + "-abcde",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port), Protocol: ptr.To(protocol)}},
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{
			Addresses: []string{e.IP},
			Conditions: discoveryv1.EndpointConditions{
				Ready:       ptr.To(!e.NotReady && !e.Terminating),
				Serving:     ptr.To(!e.NotReady),
				Terminating: ptr.To(e.Terminating),
			},
		}
		if e.Node != "" {
			ep.NodeName = ptr.To(e.Node)
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

// State feeds objects (Services and EndpointSlices) to a fresh Tracker for node1 and
// returns the first, full State.
func State(objects ...any) *proxy.State {
	t := proxy.NewTracker(NodeName, nil)
	Feed(t, objects...)
	return t.Apply()
}

// Feed hands objects to t as adds/updates.
func Feed(t *proxy.Tracker, objects ...any) {
	for _, o := range objects {
		switch o := o.(type) {
		case *corev1.Service:
			t.OnServiceAdd(o)
		case *discoveryv1.EndpointSlice:
			t.OnEndpointSliceUpdate(o)
		default:
			panic("proxytest: unsupported object")
		}
	}
}
