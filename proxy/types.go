package proxy

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Proxier is one data plane mode. Backends render state into the kernel (or a userspace
// proxy); they do not track changes themselves.
type Proxier interface {
	// Sync makes the node's rules match state. state.Changed names the Services whose ports
	// or endpoints changed since the last successful Sync; state.Full asks for a rewrite of
	// everything (the first sync, after a failure, and periodically).
	Sync(ctx context.Context, state *State) error
	// Cleanup removes every rule, device, set and listener this mode may have created on the
	// node, whether or not this process created them (like `kube-proxy --cleanup`).
	Cleanup(ctx context.Context) error
}

// Config is what every mode needs to know about the node it programs.
type Config struct {
	// NodeName is the node's name; endpoints whose nodeName matches are local.
	NodeName string
	// NodeIPs are the node's addresses, primary first.
	NodeIPs []netip.Addr
	// ClusterCIDR is the pod network; traffic from outside it to a ClusterIP is masqueraded
	// (upstream's --cluster-cidr local-traffic detector).
	ClusterCIDR netip.Prefix
	// NodePortAddresses limits the addresses NodePorts answer on; empty means every local
	// address.
	NodePortAddresses []netip.Prefix
	// MasqueradeBit is the fwmark bit that marks packets for SNAT (upstream default 14,
	// so the mark is 0x4000).
	MasqueradeBit int
	// MasqueradeAll masquerades all traffic to Service addresses.
	MasqueradeAll bool
}

// DefaultMasqueradeBit is kube-proxy's default --iptables-masquerade-bit.
const DefaultMasqueradeBit = 14

// MasqueradeMark is the mark value for c.MasqueradeBit, e.g. "0x4000".
func (c Config) MasqueradeMark() string {
	bit := c.MasqueradeBit
	if bit == 0 {
		bit = DefaultMasqueradeBit
	}
	return fmt.Sprintf("%#x", 1<<uint(bit))
}

// ServicePortName names one port of one Service, like upstream: "ns/name:port" (the
// ":port" part only when the port has a name) plus the protocol.
type ServicePortName struct {
	types.NamespacedName
	Port     string
	Protocol corev1.Protocol
}

// String is upstream's ServicePortName.String: "ns/name" or "ns/name:port".
func (n ServicePortName) String() string {
	if n.Port == "" {
		return n.NamespacedName.String()
	}
	return n.NamespacedName.String() + ":" + n.Port
}

// ServicePort is what a mode needs of one port of a Service.
type ServicePort struct {
	Name ServicePortName
	// ClusterIP is the (IPv4) cluster IP; svclab's lab is IPv4-only.
	ClusterIP netip.Addr
	Port      int
	Protocol  corev1.Protocol
	NodePort  int
	// TargetPort is spec.ports[].targetPort as written (a number or a name); endpoints
	// already carry the resolved port, this is for display.
	TargetPort string
	// ExternalIPs and LoadBalancerVIPs are the extra addresses the Service answers on.
	ExternalIPs      []netip.Addr
	LoadBalancerVIPs []netip.Addr
	// LoadBalancerSourceRanges restricts who may use the LoadBalancer addresses.
	LoadBalancerSourceRanges []netip.Prefix
	// SessionAffinityClientIP and StickyMaxAgeSeconds are sessionAffinity: ClientIP.
	SessionAffinityClientIP bool
	StickyMaxAgeSeconds     int
	// ExternalPolicyLocal is externalTrafficPolicy: Local (only meaningful when the Service
	// is externally accessible); InternalPolicyLocal is internalTrafficPolicy: Local.
	ExternalPolicyLocal bool
	InternalPolicyLocal bool
	HealthCheckNodePort int
}

// String is "ip:port/protocol".
func (p *ServicePort) String() string {
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(p.ClusterIP, uint16(p.Port)), p.Protocol)
}

// ExternallyAccessible reports whether the port answers on anything but its ClusterIP.
func (p *ServicePort) ExternallyAccessible() bool {
	return p.NodePort != 0 || len(p.LoadBalancerVIPs) > 0 || len(p.ExternalIPs) > 0
}

// ExternalPolicyLocalApplies is externalTrafficPolicy: Local on an externally accessible
// port (upstream's ExternalPolicyLocal()).
func (p *ServicePort) ExternalPolicyLocalApplies() bool {
	return p.ExternalPolicyLocal && p.ExternallyAccessible()
}

// UsesClusterEndpoints reports whether some traffic to the port may go to any endpoint.
func (p *ServicePort) UsesClusterEndpoints() bool {
	return !p.InternalPolicyLocal || (p.ExternallyAccessible() && !p.ExternalPolicyLocal)
}

// UsesLocalEndpoints reports whether some traffic to the port goes only to local endpoints.
func (p *ServicePort) UsesLocalEndpoints() bool {
	return p.InternalPolicyLocal || p.ExternalPolicyLocalApplies()
}

// Endpoint is one address:port serving a ServicePort.
type Endpoint struct {
	IP   netip.Addr
	Port int
	// Ready, Serving and Terminating are the EndpointSlice conditions (Serving defaults to
	// Ready when unset, Terminating to false).
	Ready, Serving, Terminating bool
	// NodeName is where the endpoint runs; Local is NodeName == the proxy's node.
	NodeName string
	Local    bool
}

// String is "ip:port", the form upstream hashes into chain names.
func (e Endpoint) String() string {
	return netip.AddrPortFrom(e.IP, uint16(e.Port)).String()
}
