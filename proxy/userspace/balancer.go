package userspace

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/svclab/svclab/proxy"
)

// Errors from the balancer, checked with errors.Is.
var (
	// ErrNoService: the balancer does not know the Service port (it was removed).
	ErrNoService = errors.New("service port is not proxied")
	// ErrNoEndpoints: the Service port has no ready endpoint.
	ErrNoEndpoints = errors.New("service port has no endpoints")
)

// balancer is upstream's LoadBalancerRR: round robin over each Service port's endpoints,
// with ClientIP affinity records that expire after the Service's timeout. Unlike upstream
// it keeps endpoints in address order instead of shuffling them, so a walk is repeatable.
type balancer struct {
	mu       sync.Mutex
	now      func() time.Time
	services map[proxy.ServicePortName]*lbState
}

type lbState struct {
	endpoints []netip.AddrPort
	index     int // next endpoint in round robin
	affinity  bool
	ttl       time.Duration
	clients   map[netip.Addr]*affinityRecord
}

type affinityRecord struct {
	endpoint netip.AddrPort
	lastUsed time.Time
}

func newBalancer(now func() time.Time) *balancer {
	return &balancer{now: now, services: map[proxy.ServicePortName]*lbState{}}
}

// update sets a Service port's endpoints and affinity. A changed endpoint set resets the
// round robin and forgets the clients of endpoints that went away (upstream's
// removeStaleAffinity); turning affinity off forgets every client.
func (b *balancer) update(name proxy.ServicePortName, endpoints []netip.AddrPort, affinity bool, ttlSeconds int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.services[name]
	if s == nil {
		s = &lbState{clients: map[netip.Addr]*affinityRecord{}}
		b.services[name] = s
	}
	if ttlSeconds <= 0 {
		// Upstream's default: 3 hours.
		ttlSeconds = 10800
	}
	s.affinity, s.ttl = affinity, time.Duration(ttlSeconds)*time.Second
	if !affinity {
		clear(s.clients)
	}
	if !sameSet(s.endpoints, endpoints) {
		for ip, rec := range s.clients {
			if !slices.Contains(endpoints, rec.endpoint) {
				delete(s.clients, ip)
			}
		}
		s.endpoints = slices.Clone(endpoints)
		s.index = 0
	}
}

func sameSet(a, b []netip.AddrPort) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// remove forgets a Service port.
func (b *balancer) remove(name proxy.ServicePortName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.services, name)
}

// next picks the endpoint for a new connection from client. With affinity, a client seen
// within the timeout gets its endpoint again, unless reset is set: that is a retry after
// the previous pick failed to connect, which moves on in round robin and re-pins the client.
func (b *balancer) next(name proxy.ServicePortName, client netip.Addr, reset bool) (netip.AddrPort, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.services[name]
	if s == nil {
		return netip.AddrPort{}, ErrNoService
	}
	if len(s.endpoints) == 0 {
		return netip.AddrPort{}, ErrNoEndpoints
	}
	now := b.now()
	if s.affinity && !reset {
		if rec := s.clients[client]; rec != nil && now.Sub(rec.lastUsed) < s.ttl {
			rec.lastUsed = now
			return rec.endpoint, nil
		}
	}
	ep := s.endpoints[s.index]
	s.index = (s.index + 1) % len(s.endpoints)
	if s.affinity {
		s.clients[client] = &affinityRecord{endpoint: ep, lastUsed: now}
	}
	return ep, nil
}

// hasEndpoints reports whether the Service port has any endpoint.
func (b *balancer) hasEndpoints(name proxy.ServicePortName) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.services[name]
	return s != nil && len(s.endpoints) > 0
}

// cleanupStale drops expired affinity records (upstream's CleanupStaleStickySessions).
func (b *balancer) cleanupStale() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for _, s := range b.services {
		for ip, rec := range s.clients {
			if now.Sub(rec.lastUsed) >= s.ttl {
				delete(s.clients, ip)
			}
		}
	}
}

// snapshot returns the balancer's view of a Service port for the Table.
func (b *balancer) snapshot(name proxy.ServicePortName) (endpoints []netip.AddrPort, next int, clients []AffinityClient) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.services[name]
	if s == nil {
		return nil, 0, nil
	}
	now := b.now()
	for ip, rec := range s.clients {
		if now.Sub(rec.lastUsed) >= s.ttl {
			continue
		}
		clients = append(clients, AffinityClient{
			ClientIP:         ip,
			Endpoint:         rec.endpoint,
			LastUsed:         rec.lastUsed.UTC(),
			ExpiresInSeconds: int((s.ttl - now.Sub(rec.lastUsed)).Seconds()),
		})
	}
	slices.SortFunc(clients, func(a, b AffinityClient) int { return a.ClientIP.Compare(b.ClientIP) })
	return slices.Clone(s.endpoints), s.index, clients
}
