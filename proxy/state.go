package proxy

import (
	"net/netip"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// State is the desired data plane of one node at one sync.
type State struct {
	// Services holds every proxied Service port (headless and ExternalName Services are
	// not proxied and never appear).
	Services map[ServicePortName]*ServicePort
	// Endpoints holds each port's endpoints, sorted by address; a port with no entry has
	// none.
	Endpoints map[ServicePortName][]Endpoint
	// Changed names the Services whose ports or endpoints changed since the last
	// successful sync (including deleted ones). Full asks for everything to be rewritten.
	Changed sets.Set[types.NamespacedName]
	Full    bool
	// StaleUDP lists UDP flows whose conntrack entries must be flushed once the new rules
	// are in: a ClusterIP or endpoint that went away, or a Service that gained its first
	// endpoint (so cached "no endpoint" verdicts go).
	StaleUDP []StaleUDP
}

// StaleUDP is a conntrack flush request: UDP flows to ServiceIP:Port (and to NodePort on
// any address when set), only those answered by EndpointIP when it is valid.
type StaleUDP struct {
	ServiceIP  netip.Addr
	Port       int
	NodePort   int
	EndpointIP netip.Addr
}

// SortedServicePorts returns the keys of s.Services in a stable order (namespace, name,
// port name, protocol), so renderings are deterministic.
func (s *State) SortedServicePorts() []ServicePortName {
	names := make([]ServicePortName, 0, len(s.Services))
	for n := range s.Services {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return lessPortName(names[i], names[j]) })
	return names
}

func lessPortName(a, b ServicePortName) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	if a.Port != b.Port {
		return a.Port < b.Port
	}
	return a.Protocol < b.Protocol
}

// ServiceChanged reports whether the Service owning n must be rewritten in this sync.
func (s *State) ServiceChanged(n ServicePortName) bool {
	return s.Full || s.Changed.Has(n.NamespacedName)
}

// Categorized is the result of CategorizeEndpoints.
type Categorized struct {
	// Cluster are the endpoints for traffic that may go anywhere; Local those for traffic
	// that must stay on the node; AllReachable the union a mode needs SEP chains for.
	Cluster, Local, AllReachable []Endpoint
	// HasAny reports whether any usable endpoint exists in the cluster (if not, traffic
	// is rejected rather than dropped).
	HasAny bool
}

// CategorizeEndpoints is upstream kube-proxy's CategorizeEndpoints without topology hints:
// ready endpoints, falling back to serving-and-terminating ones when none is ready, split
// by traffic policy.
func CategorizeEndpoints(eps []Endpoint, port *ServicePort) Categorized {
	var c Categorized
	useServingTerminating := false
	if port.UsesClusterEndpoints() {
		c.Cluster = filterEndpoints(eps, func(e Endpoint) bool { return e.Ready })
		if len(c.Cluster) == 0 {
			c.Cluster = filterEndpoints(eps, func(e Endpoint) bool { return e.Serving && e.Terminating })
		}
		c.HasAny = len(c.Cluster) > 0
	}
	if !port.UsesLocalEndpoints() {
		c.AllReachable = c.Cluster
		return c
	}
	localReady, localServingTerminating := false, false
	for _, e := range eps {
		if e.Ready {
			c.HasAny = true
			localReady = localReady || e.Local
		} else if e.Serving && e.Terminating {
			c.HasAny = true
			localServingTerminating = localServingTerminating || e.Local
		}
	}
	switch {
	case localReady:
		c.Local = filterEndpoints(eps, func(e Endpoint) bool { return e.Local && e.Ready })
	case localServingTerminating:
		useServingTerminating = true
		c.Local = filterEndpoints(eps, func(e Endpoint) bool { return e.Local && e.Serving && e.Terminating })
	}
	if !port.UsesClusterEndpoints() {
		c.AllReachable = c.Local
		return c
	}
	if !useServingTerminating {
		c.AllReachable = c.Cluster
		return c
	}
	c.AllReachable = slices.Clone(c.Cluster)
	for _, e := range c.Local {
		if !slices.Contains(c.AllReachable, e) {
			c.AllReachable = append(c.AllReachable, e)
		}
	}
	return c
}

func filterEndpoints(eps []Endpoint, keep func(Endpoint) bool) []Endpoint {
	var out []Endpoint
	for _, e := range eps {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
