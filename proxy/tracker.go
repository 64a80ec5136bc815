package proxy

import (
	"reflect"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Tracker turns Service and EndpointSlice events into State. It keeps {previous, current}
// per Service between syncs and drops the pair when they are equal, so an update that
// changes nothing the proxy renders never causes a sync (upstream's ServiceChangeTracker
// and EndpointsChangeTracker). It is safe for concurrent use.
type Tracker struct {
	mu       sync.Mutex
	nodeName string
	onChange func()

	services  map[types.NamespacedName]map[ServicePortName]*ServicePort
	endpoints map[types.NamespacedName]map[ServicePortName][]Endpoint
	slices    map[types.NamespacedName]map[string]*discoveryv1.EndpointSlice

	svcChanges map[types.NamespacedName]*change[map[ServicePortName]*ServicePort]
	epChanges  map[types.NamespacedName]*change[map[ServicePortName][]Endpoint]
	forceFull  bool
}

type change[T any] struct{ previous, current T }

// NewTracker returns a Tracker for the proxy on nodeName. onChange, if not nil, is called
// (without locks held) whenever a real change becomes pending.
func NewTracker(nodeName string, onChange func()) *Tracker {
	return &Tracker{
		nodeName:   nodeName,
		onChange:   onChange,
		services:   map[types.NamespacedName]map[ServicePortName]*ServicePort{},
		endpoints:  map[types.NamespacedName]map[ServicePortName][]Endpoint{},
		slices:     map[types.NamespacedName]map[string]*discoveryv1.EndpointSlice{},
		svcChanges: map[types.NamespacedName]*change[map[ServicePortName]*ServicePort]{},
		epChanges:  map[types.NamespacedName]*change[map[ServicePortName][]Endpoint]{},
		forceFull:  true,
	}
}

// ServiceUpdated records the new version of a Service (nil svc with its name means
// deleted).
func (t *Tracker) ServiceUpdated(nn types.NamespacedName, svc *corev1.Service) {
	t.mu.Lock()
	c := t.svcChanges[nn]
	if c == nil {
		c = &change[map[ServicePortName]*ServicePort]{previous: t.services[nn]}
		t.svcChanges[nn] = c
	}
	c.current = servicePorts(svc)
	pending := t.settle(nn)
	t.mu.Unlock()
	t.notify(pending)
}

// OnServiceAdd, OnServiceUpdate and OnServiceDelete adapt ServiceUpdated to informer
// callbacks.
func (t *Tracker) OnServiceAdd(svc *corev1.Service) { t.ServiceUpdated(nameOf(svc), svc) }

// OnServiceUpdate records a Service update.
func (t *Tracker) OnServiceUpdate(_, svc *corev1.Service) { t.ServiceUpdated(nameOf(svc), svc) }

// OnServiceDelete records a Service deletion.
func (t *Tracker) OnServiceDelete(svc *corev1.Service) { t.ServiceUpdated(nameOf(svc), nil) }

// OnEndpointSliceUpdate records a new or changed EndpointSlice.
func (t *Tracker) OnEndpointSliceUpdate(slice *discoveryv1.EndpointSlice) {
	t.endpointSlice(slice, false)
}

// OnEndpointSliceDelete records a deleted EndpointSlice.
func (t *Tracker) OnEndpointSliceDelete(slice *discoveryv1.EndpointSlice) {
	t.endpointSlice(slice, true)
}

func (t *Tracker) endpointSlice(slice *discoveryv1.EndpointSlice, deleted bool) {
	svcName := slice.Labels[discoveryv1.LabelServiceName]
	if svcName == "" {
		return // not owned by a Service: kube-proxy ignores it
	}
	nn := types.NamespacedName{Namespace: slice.Namespace, Name: svcName}
	t.mu.Lock()
	cache := t.slices[nn]
	if cache == nil {
		cache = map[string]*discoveryv1.EndpointSlice{}
		t.slices[nn] = cache
	}
	if deleted {
		delete(cache, slice.Name)
	} else {
		cache[slice.Name] = slice
	}
	if len(cache) == 0 {
		delete(t.slices, nn)
	}
	c := t.epChanges[nn]
	if c == nil {
		c = &change[map[ServicePortName][]Endpoint]{previous: t.endpoints[nn]}
		t.epChanges[nn] = c
	}
	c.current = sliceEndpoints(nn, cache, t.nodeName)
	pending := t.settle(nn)
	t.mu.Unlock()
	t.notify(pending)
}

// settle drops no-op changes of nn and reports whether anything is pending.
func (t *Tracker) settle(nn types.NamespacedName) bool {
	if c := t.svcChanges[nn]; c != nil && equalServices(c.previous, c.current) {
		delete(t.svcChanges, nn)
	}
	if c := t.epChanges[nn]; c != nil && reflect.DeepEqual(emptyToNil(c.previous), emptyToNil(c.current)) {
		delete(t.epChanges, nn)
	}
	return len(t.svcChanges) > 0 || len(t.epChanges) > 0
}

func (t *Tracker) notify(pending bool) {
	if pending && t.onChange != nil {
		t.onChange()
	}
}

// Pending reports whether a sync would change anything.
func (t *Tracker) Pending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.forceFull || len(t.svcChanges) > 0 || len(t.epChanges) > 0
}

// ForceFull makes the next State a full one (after a failed sync, or periodically).
func (t *Tracker) ForceFull() {
	t.mu.Lock()
	t.forceFull = true
	t.mu.Unlock()
}

// Apply folds the pending changes in and returns the State to sync. The maps in State are
// fresh; the ServicePort and Endpoint values are shared and must not be modified.
func (t *Tracker) Apply() *State {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &State{
		Services:  map[ServicePortName]*ServicePort{},
		Endpoints: map[ServicePortName][]Endpoint{},
		Changed:   sets.New[types.NamespacedName](),
		Full:      t.forceFull,
	}
	for nn, c := range t.svcChanges {
		st.Changed.Insert(nn)
		st.StaleUDP = append(st.StaleUDP, staleServicePorts(c.previous, c.current)...)
		if len(c.current) == 0 {
			delete(t.services, nn)
		} else {
			t.services[nn] = c.current
		}
	}
	for nn, c := range t.epChanges {
		st.Changed.Insert(nn)
		st.StaleUDP = append(st.StaleUDP, staleEndpoints(t.services[nn], c.previous, c.current)...)
		if len(c.current) == 0 {
			delete(t.endpoints, nn)
		} else {
			t.endpoints[nn] = c.current
		}
	}
	clear(t.svcChanges)
	clear(t.epChanges)
	t.forceFull = false
	for _, ports := range t.services {
		for name, p := range ports {
			st.Services[name] = p
		}
	}
	for _, ports := range t.endpoints {
		for name, eps := range ports {
			st.Endpoints[name] = eps
		}
	}
	return st
}

// staleServicePorts flushes UDP flows to Service ports that went away or moved.
func staleServicePorts(previous, current map[ServicePortName]*ServicePort) []StaleUDP {
	var out []StaleUDP
	for name, p := range previous {
		if p.Protocol != corev1.ProtocolUDP {
			continue
		}
		if cur, ok := current[name]; ok && cur.ClusterIP == p.ClusterIP && cur.Port == p.Port {
			continue
		}
		out = append(out, StaleUDP{ServiceIP: p.ClusterIP, Port: p.Port})
	}
	return out
}

// staleEndpoints flushes UDP flows to endpoints that no longer serve, and flows of a UDP
// port that had no usable endpoint and now has one (upstream's newly active services).
func staleEndpoints(ports map[ServicePortName]*ServicePort, previous, current map[ServicePortName][]Endpoint) []StaleUDP {
	var out []StaleUDP
	for name, p := range ports {
		if p.Protocol != corev1.ProtocolUDP {
			continue
		}
		prevUsable := usable(previous[name])
		curUsable := usable(current[name])
		for _, e := range prevUsable {
			if !containsIP(curUsable, e) {
				out = append(out, StaleUDP{ServiceIP: p.ClusterIP, Port: p.Port, NodePort: p.NodePort, EndpointIP: e.IP})
			}
		}
		if len(prevUsable) == 0 && len(curUsable) > 0 {
			out = append(out, StaleUDP{ServiceIP: p.ClusterIP, Port: p.Port, NodePort: p.NodePort})
		}
	}
	return out
}

func usable(eps []Endpoint) []Endpoint {
	return filterEndpoints(eps, func(e Endpoint) bool { return e.Ready || (e.Serving && e.Terminating) })
}

func containsIP(eps []Endpoint, e Endpoint) bool {
	for _, x := range eps {
		if x.IP == e.IP && x.Port == e.Port {
			return true
		}
	}
	return false
}

func equalServices(a, b map[ServicePortName]*ServicePort) bool {
	if len(a) != len(b) {
		return false
	}
	for name, p := range a {
		q, ok := b[name]
		if !ok || !reflect.DeepEqual(p, q) {
			return false
		}
	}
	return true
}

func emptyToNil(m map[ServicePortName][]Endpoint) map[ServicePortName][]Endpoint {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nameOf(svc *corev1.Service) types.NamespacedName {
	return types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
}
