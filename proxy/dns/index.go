package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Index holds what DNS answers need from Services, EndpointSlices and Namespaces. The
// informers' event handlers write it; queries read it, so a change is answered as soon as
// the informer delivers it.
type Index struct {
	mu         sync.RWMutex
	services   map[string]*service        // "ns/name"
	slices     map[string]*endpointSlice  // "ns/slice"
	bySvc      map[string]map[string]bool // "ns/service" → slice keys
	namespaces map[string]bool
	modified   time.Time
	now        func() time.Time
}

type service struct {
	name, namespace string
	headless        bool
	externalName    string // set for type ExternalName
	ips             []netip.Addr
	ports           []port
	publishNotReady bool
}

type port struct {
	name, protocol string // protocol lower-case: tcp, udp, sctp
	port           uint16
}

type endpointSlice struct {
	service, namespace string
	endpoints          []endpoint
	ports              []port
}

type endpoint struct {
	addrs    []netip.Addr
	hostname string
	ready    bool
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		services: map[string]*service{}, slices: map[string]*endpointSlice{},
		bySvc: map[string]map[string]bool{}, namespaces: map[string]bool{}, now: time.Now,
	}
}

func (x *Index) touch() { x.modified = x.now() }

// Serial is the zone's SOA serial: the time of the last change, like CoreDNS's.
func (x *Index) Serial() uint32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return uint32(x.modified.Unix())
}

// SetService adds or replaces a Service.
func (x *Index) SetService(s *corev1.Service) {
	svc := &service{name: s.Name, namespace: s.Namespace, publishNotReady: s.Spec.PublishNotReadyAddresses}
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		svc.externalName = strings.ToLower(strings.TrimSuffix(s.Spec.ExternalName, "."))
	case s.Spec.ClusterIP == corev1.ClusterIPNone:
		svc.headless = true
	default:
		ips := s.Spec.ClusterIPs
		if len(ips) == 0 && s.Spec.ClusterIP != "" {
			ips = []string{s.Spec.ClusterIP}
		}
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				svc.ips = append(svc.ips, a.Unmap())
			}
		}
	}
	for _, p := range s.Spec.Ports {
		svc.ports = append(svc.ports, port{name: p.Name, protocol: strings.ToLower(string(p.Protocol)), port: uint16(p.Port)})
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.services[s.Namespace+"/"+s.Name] = svc
	x.touch()
}

// DeleteService removes a Service.
func (x *Index) DeleteService(namespace, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.services, namespace+"/"+name)
	x.touch()
}

// SetEndpointSlice adds or replaces an EndpointSlice. Slices without the
// kubernetes.io/service-name label and FQDN slices are ignored.
func (x *Index) SetEndpointSlice(s *discoveryv1.EndpointSlice) {
	key := s.Namespace + "/" + s.Name
	svcName := s.Labels[discoveryv1.LabelServiceName]
	if svcName == "" || s.AddressType == discoveryv1.AddressTypeFQDN {
		x.DeleteEndpointSlice(s.Namespace, s.Name)
		return
	}
	es := &endpointSlice{service: svcName, namespace: s.Namespace}
	for _, p := range s.Ports {
		q := port{protocol: "tcp"}
		if p.Name != nil {
			q.name = *p.Name
		}
		if p.Protocol != nil {
			q.protocol = strings.ToLower(string(*p.Protocol))
		}
		if p.Port != nil {
			q.port = uint16(*p.Port)
		}
		es.ports = append(es.ports, q)
	}
	for _, e := range s.Endpoints {
		ep := endpoint{ready: e.Conditions.Ready == nil || *e.Conditions.Ready}
		if e.Hostname != nil {
			ep.hostname = strings.ToLower(*e.Hostname)
		}
		for _, a := range e.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				ep.addrs = append(ep.addrs, ip.Unmap())
			}
		}
		es.endpoints = append(es.endpoints, ep)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeSliceLocked(key)
	x.slices[key] = es
	sk := s.Namespace + "/" + svcName
	if x.bySvc[sk] == nil {
		x.bySvc[sk] = map[string]bool{}
	}
	x.bySvc[sk][key] = true
	x.touch()
}

// DeleteEndpointSlice removes an EndpointSlice.
func (x *Index) DeleteEndpointSlice(namespace, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeSliceLocked(namespace + "/" + name)
	x.touch()
}

func (x *Index) removeSliceLocked(key string) {
	old, ok := x.slices[key]
	if !ok {
		return
	}
	delete(x.slices, key)
	sk := old.namespace + "/" + old.service
	delete(x.bySvc[sk], key)
	if len(x.bySvc[sk]) == 0 {
		delete(x.bySvc, sk)
	}
}

// SetNamespace records that a namespace exists.
func (x *Index) SetNamespace(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.namespaces[name] = true
	x.touch()
}

// DeleteNamespace records that a namespace is gone.
func (x *Index) DeleteNamespace(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.namespaces, name)
	x.touch()
}

// namespaceExists is true for a known namespace, or one holding a Service (so answers stay
// right when the namespace informer is not allowed to list).
func (x *Index) namespaceExists(ns string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.namespaces[ns] {
		return true
	}
	for _, s := range x.services {
		if s.namespace == ns {
			return true
		}
	}
	return false
}

// lookupService returns a copy of the Service named ns/name (lower-case match).
func (x *Index) lookupService(ns, name string) (service, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.services[ns+"/"+name]
	if ok {
		return *s, true
	}
	// Names in Kubernetes are lower-case already; a query in other case still matches.
	for _, s := range x.services {
		if strings.EqualFold(s.namespace, ns) && strings.EqualFold(s.name, name) {
			return *s, true
		}
	}
	return service{}, false
}

// namedEndpoint is one address of a Service's endpoints with its DNS label.
type namedEndpoint struct {
	addr  netip.Addr
	label string // hostname, or the address with dashes
}

// endpoints returns the Service's ready (or all, with publishNotReadyAddresses) endpoint
// addresses, deduplicated across slices, and the endpoint ports, sorted for stable answers.
func (x *Index) endpoints(s service) ([]namedEndpoint, []port) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	seen := map[netip.Addr]bool{}
	var eps []namedEndpoint
	var ports []port
	seenPort := map[port]bool{}
	for key := range x.bySvc[s.namespace+"/"+s.name] {
		es := x.slices[key]
		for _, p := range es.ports {
			if !seenPort[p] {
				seenPort[p] = true
				ports = append(ports, p)
			}
		}
		for _, e := range es.endpoints {
			if !e.ready && !s.publishNotReady {
				continue
			}
			for _, a := range e.addrs {
				if seen[a] {
					continue
				}
				seen[a] = true
				eps = append(eps, namedEndpoint{addr: a, label: endpointLabel(e.hostname, a)})
			}
		}
	}
	slices.SortFunc(eps, func(a, b namedEndpoint) int { return a.addr.Compare(b.addr) })
	slices.SortFunc(ports, func(a, b port) int {
		return strings.Compare(a.name+"/"+a.protocol, b.name+"/"+b.protocol)
	})
	return eps, ports
}

// endpointLabel is CoreDNS's endpointHostname: the hostname, else the address with dashes.
func endpointLabel(hostname string, a netip.Addr) string {
	if hostname != "" {
		return hostname
	}
	if a.Is4() {
		return strings.ReplaceAll(a.String(), ".", "-")
	}
	return strings.ReplaceAll(a.String(), ":", "-")
}

// reverse returns the names for an address: the Service whose ClusterIP it is, else the
// endpoint names of every Service it is an endpoint of (CoreDNS's serviceRecordForIP).
func (x *Index) reverse(a netip.Addr) (names [][3]string) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, s := range x.services {
		if slices.Contains(s.ips, a) {
			return [][3]string{{"", s.name, s.namespace}}
		}
	}
	seen := map[[3]string]bool{}
	for _, es := range x.slices {
		for _, e := range es.endpoints {
			if !e.ready || !slices.Contains(e.addrs, a) {
				continue
			}
			n := [3]string{endpointLabel(e.hostname, a), es.service, es.namespace}
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.SortFunc(names, func(a, b [3]string) int { return strings.Compare(strings.Join(a[:], "."), strings.Join(b[:], ".")) })
	return names
}
