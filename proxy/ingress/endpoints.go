package ingress

import (
	"net"
	"sort"
	"strconv"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

// EndpointMap is an Endpoints resolved ahead of requests: the controller computes the
// ready addresses of every backend of the table on each change and swaps the whole map, so
// a request costs one map lookup.
type EndpointMap struct {
	m atomic.Pointer[map[Backend][]string]
}

var _ Endpoints = (*EndpointMap)(nil)

// Ready returns the backend's ready "ip:port" addresses.
func (e *EndpointMap) Ready(b Backend) []string {
	if m := e.m.Load(); m != nil {
		return (*m)[b]
	}
	return nil
}

// Set swaps the map.
func (e *EndpointMap) Set(m map[Backend][]string) { e.m.Store(&m) }

// Removed reports whether some address in the current map is absent from next.
func (e *EndpointMap) Removed(next map[Backend][]string) bool {
	cur := e.m.Load()
	if cur == nil {
		return false
	}
	kept := map[string]bool{}
	for _, addrs := range next {
		for _, a := range addrs {
			kept[a] = true
		}
	}
	for _, addrs := range *cur {
		for _, a := range addrs {
			if !kept[a] {
				return true
			}
		}
	}
	return false
}

// ResolveBackend maps a backend's Service port (by number or name) to the ready addresses
// of the Service's EndpointSlices: the slice port with the Service port's name gives the
// target port number, as kube-proxy does for named targetPorts. Endpoints that are not
// ready (including terminating ones) are left out. ExternalName Services and missing
// Services or ports resolve to nothing (the proxy answers 503).
func ResolveBackend(b Backend, services corelisters.ServiceLister, slices discoverylisters.EndpointSliceLister) []string {
	svc, err := services.Services(b.Namespace).Get(b.Service)
	if err != nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (b.PortName != "" && p.Name == b.PortName) || (b.PortName == "" && p.Port == b.Port) {
			port = p
			break
		}
	}
	if port == nil || (port.Protocol != "" && port.Protocol != corev1.ProtocolTCP) {
		return nil
	}
	list, err := slices.EndpointSlices(b.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: b.Service}))
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		target := int32(-1)
		for _, sp := range s.Ports {
			name := ""
			if sp.Name != nil {
				name = *sp.Name
			}
			if name == port.Name && sp.Port != nil && (sp.Protocol == nil || *sp.Protocol == corev1.ProtocolTCP) {
				target = *sp.Port
			}
		}
		if target < 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				addr := net.JoinHostPort(a, strconv.Itoa(int(target)))
				if !seen[addr] {
					seen[addr] = true
					out = append(out, addr)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// Backends lists the distinct backends of the table.
func (t *Table) Backends() []Backend {
	seen := map[Backend]bool{}
	var out []Backend
	add := func(r Route) {
		if !seen[r.Backend] {
			seen[r.Backend] = true
			out = append(out, r.Backend)
		}
	}
	if t.def != nil {
		add(*t.def)
	}
	for _, g := range t.groups() {
		for _, r := range g.exact {
			add(r)
		}
		for _, r := range g.prefix {
			add(r)
		}
	}
	return out
}
