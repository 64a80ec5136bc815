package ipvstest

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// IPVS is an in-memory IPVS table implementing ipvs.Handle. It records every call and,
// like the kernel, returns services with the "hashed" flag set and refuses duplicates.
type IPVS struct {
	mu sync.Mutex
	// Calls logs mutating calls, e.g. "NewService 172.30.0.41:80/TCP".
	Calls    []string
	services map[string]*entry
}

type entry struct {
	svc   mobyipvs.Service
	dests map[netip.AddrPort]*mobyipvs.Destination
}

// NewIPVS returns an empty table.
func NewIPVS() *IPVS { return &IPVS{services: map[string]*entry{}} }

func addrOf(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func proto(n uint16) string {
	switch n {
	case unix.IPPROTO_UDP:
		return "UDP"
	case unix.IPPROTO_SCTP:
		return "SCTP"
	}
	return "TCP"
}

func key(s *mobyipvs.Service) string {
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(addrOf(s.Address), s.Port), proto(s.Protocol))
}

func dkey(d *mobyipvs.Destination) netip.AddrPort {
	return netip.AddrPortFrom(addrOf(d.Address), d.Port)
}

func (f *IPVS) log(format string, args ...any) {
	f.Calls = append(f.Calls, fmt.Sprintf(format, args...))
}

// GetServices implements ipvs.Handle.
func (f *IPVS) GetServices() ([]*mobyipvs.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.services))
	for k := range f.services {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*mobyipvs.Service
	for _, k := range keys {
		s := f.services[k].svc
		s.Flags |= 0x2 // IP_VS_SVC_F_HASHED, as the kernel reports it
		out = append(out, &s)
	}
	return out, nil
}

// NewService implements ipvs.Handle.
func (f *IPVS) NewService(s *mobyipvs.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(s)
	if _, ok := f.services[k]; ok {
		return unix.EEXIST
	}
	f.log("NewService %s %s flags=%#x timeout=%d", k, s.SchedName, s.Flags, s.Timeout)
	f.services[k] = &entry{svc: *s, dests: map[netip.AddrPort]*mobyipvs.Destination{}}
	return nil
}

// UpdateService implements ipvs.Handle.
func (f *IPVS) UpdateService(s *mobyipvs.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.services[key(s)]
	if !ok {
		return unix.ESRCH
	}
	f.log("UpdateService %s %s flags=%#x timeout=%d", key(s), s.SchedName, s.Flags, s.Timeout)
	e.svc = *s
	return nil
}

// DelService implements ipvs.Handle.
func (f *IPVS) DelService(s *mobyipvs.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.services[key(s)]; !ok {
		return unix.ESRCH
	}
	f.log("DelService %s", key(s))
	delete(f.services, key(s))
	return nil
}

// GetDestinations implements ipvs.Handle.
func (f *IPVS) GetDestinations(s *mobyipvs.Service) ([]*mobyipvs.Destination, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.services[key(s)]
	if !ok {
		return nil, unix.ESRCH
	}
	keys := make([]netip.AddrPort, 0, len(e.dests))
	for k := range e.dests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, netip.AddrPort.Compare)
	var out []*mobyipvs.Destination
	for _, k := range keys {
		d := *e.dests[k]
		out = append(out, &d)
	}
	return out, nil
}

// NewDestination implements ipvs.Handle.
func (f *IPVS) NewDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.services[key(s)]
	if !ok {
		return unix.ESRCH
	}
	if _, ok := e.dests[dkey(d)]; ok {
		return unix.EEXIST
	}
	f.log("NewDestination %s %s weight=%d", key(s), dkey(d), d.Weight)
	c := *d
	e.dests[dkey(d)] = &c
	return nil
}

// UpdateDestination implements ipvs.Handle.
func (f *IPVS) UpdateDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.services[key(s)]
	if !ok {
		return unix.ESRCH
	}
	old, ok := e.dests[dkey(d)]
	if !ok {
		return unix.ENOENT
	}
	f.log("UpdateDestination %s %s weight=%d", key(s), dkey(d), d.Weight)
	c := *d
	c.ActiveConnections, c.InactiveConnections = old.ActiveConnections, old.InactiveConnections
	e.dests[dkey(d)] = &c
	return nil
}

// DelDestination implements ipvs.Handle.
func (f *IPVS) DelDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.services[key(s)]
	if !ok {
		return unix.ESRCH
	}
	if _, ok := e.dests[dkey(d)]; !ok {
		return unix.ENOENT
	}
	f.log("DelDestination %s %s", key(s), dkey(d))
	delete(e.dests, dkey(d))
	return nil
}

// Flush implements ipvs.Handle.
func (f *IPVS) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("Flush")
	f.services = map[string]*entry{}
	return nil
}

// SetConnections sets the connection counters of real server dest of virtual server vs
// ("172.30.0.41:80/TCP"), as traffic would; it reports whether both exist.
func (f *IPVS) SetConnections(vs string, dest netip.AddrPort, active, inactive int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.services[vs]
	if !ok || e.dests[dest] == nil {
		return false
	}
	e.dests[dest].ActiveConnections, e.dests[dest].InactiveConnections = active, inactive
	return true
}

// ResetCalls forgets the recorded calls.
func (f *IPVS) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = nil
}
