package network

import (
	"fmt"
	"net/netip"
	"sort"
)

// ipamState is a node's pod address allocations, kept in <node dir>/ipam.json so a restarted
// lab process knows which addresses and namespaces are in use.
type ipamState struct {
	PodCIDR netip.Prefix          `json:"podCIDR"`
	Pods    map[string]netip.Addr `json:"pods"`
}

// loadIPAM reads path, or starts empty when it does not exist.
func loadIPAM(path string, cidr netip.Prefix) (*ipamState, error) {
	s := &ipamState{PodCIDR: cidr, Pods: map[string]netip.Addr{}}
	if err := readJSON(path, s); err != nil {
		if isNotExist(err) {
			return s, nil
		}
		return nil, fmt.Errorf("load pod addresses: %w", err)
	}
	if s.PodCIDR != cidr {
		return nil, fmt.Errorf("load pod addresses: %s is for podCIDR %s, not %s (run svclab down first)", path, s.PodCIDR, cidr)
	}
	if s.Pods == nil {
		s.Pods = map[string]netip.Addr{}
	}
	return s, nil
}

// allocate returns id's address: the one it already has, or the lowest free one. The network
// address, .1 (kept free, as bridge CNIs use it for the gateway) and the broadcast address
// are never handed out.
func (s *ipamState) allocate(id string) (netip.Addr, error) {
	if ip, ok := s.Pods[id]; ok {
		return ip, nil
	}
	used := map[netip.Addr]bool{}
	for _, ip := range s.Pods {
		used[ip] = true
	}
	size := 1 << (32 - s.PodCIDR.Bits())
	for i := 2; i < size-1; i++ {
		ip := addToAddr(s.PodCIDR.Addr(), uint32(i))
		if !used[ip] {
			s.Pods[id] = ip
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free pod address in %s (%d in use)", s.PodCIDR, len(s.Pods))
}

func (s *ipamState) release(id string) { delete(s.Pods, id) }

// ids lists the allocated pod ids in address order.
func (s *ipamState) ids() []string {
	ids := make([]string, 0, len(s.Pods))
	for id := range s.Pods {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return s.Pods[ids[i]].Less(s.Pods[ids[j]]) })
	return ids
}
