package endpoints

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/dump"
)

// RepackSubsets expands subsets to one (address, port) pair each and packs
// them into the canonical layout Kubernetes uses: addresses grouped by the
// identical set of ports they serve, everything sorted. Not-ready wins over
// ready for an address listed both ways. It is a port of upstream's
// pkg/api/v1/endpoints.RepackSubsets, so Endpoints compare equal to what a
// real control plane writes.
func RepackSubsets(subsets []v1.EndpointSubset) []v1.EndpointSubset {
	allAddrs := map[addressKey]*v1.EndpointAddress{}
	portToAddrReady := map[v1.EndpointPort]addressSet{}
	for i := range subsets {
		if len(subsets[i].Ports) == 0 {
			// Keep port-less (headless) endpoints, using a sentinel port.
			mapAddressesByPort(&subsets[i], v1.EndpointPort{Port: -1}, allAddrs, portToAddrReady)
			continue
		}
		for _, port := range subsets[i].Ports {
			mapAddressesByPort(&subsets[i], port, allAddrs, portToAddrReady)
		}
	}

	keyToAddrReady := map[string]addressSet{}
	keyToPorts := map[string][]v1.EndpointPort{}
	for port, addrs := range portToAddrReady {
		key := hashAddresses(addrs)
		keyToAddrReady[key] = addrs
		if port.Port > 0 {
			keyToPorts[key] = append(keyToPorts[key], port)
		} else if _, ok := keyToPorts[key]; !ok {
			keyToPorts[key] = nil // sentinel: present, without ports
		}
	}

	final := []v1.EndpointSubset{}
	for key, ports := range keyToPorts {
		var ready, notReady []v1.EndpointAddress
		for addr, r := range keyToAddrReady[key] {
			if r {
				ready = append(ready, *addr)
			} else {
				notReady = append(notReady, *addr)
			}
		}
		final = append(final, v1.EndpointSubset{Addresses: ready, NotReadyAddresses: notReady, Ports: ports})
	}
	return sortSubsets(final)
}

// addressKey de-duplicates addresses by IP and target UID.
type addressKey struct {
	ip  string
	uid types.UID
}

type addressSet map[*v1.EndpointAddress]bool

func mapAddressesByPort(subset *v1.EndpointSubset, port v1.EndpointPort, allAddrs map[addressKey]*v1.EndpointAddress, portToAddrReady map[v1.EndpointPort]addressSet) {
	for k := range subset.Addresses {
		mapAddressByPort(&subset.Addresses[k], port, true, allAddrs, portToAddrReady)
	}
	for k := range subset.NotReadyAddresses {
		mapAddressByPort(&subset.NotReadyAddresses[k], port, false, allAddrs, portToAddrReady)
	}
}

func mapAddressByPort(addr *v1.EndpointAddress, port v1.EndpointPort, ready bool, allAddrs map[addressKey]*v1.EndpointAddress, portToAddrReady map[v1.EndpointPort]addressSet) {
	key := addressKey{ip: addr.IP}
	if addr.TargetRef != nil {
		key.uid = addr.TargetRef.UID
	}
	existing := allAddrs[key]
	if existing == nil {
		cp := *addr
		existing = &cp
		allAddrs[key] = existing
	}
	if _, ok := portToAddrReady[port]; !ok {
		portToAddrReady[port] = addressSet{}
	}
	// Not ready always trumps ready.
	if wasReady, found := portToAddrReady[port][existing]; !found || wasReady {
		portToAddrReady[port][existing] = ready
	}
}

type addrReady struct {
	addr  *v1.EndpointAddress
	ready bool
}

func hashAddresses(addrs addressSet) string {
	list := make([]addrReady, 0, len(addrs))
	for k, r := range addrs {
		list = append(list, addrReady{k, r})
	}
	sort.Slice(list, func(i, j int) bool { return lessEndpointAddress(list[i].addr, list[j].addr) })
	return hex.EncodeToString(hashObject(md5.New(), list))
}

func lessEndpointAddress(a, b *v1.EndpointAddress) bool {
	if c := bytes.Compare([]byte(a.IP), []byte(b.IP)); c != 0 {
		return c < 0
	}
	if b.TargetRef == nil {
		return false
	}
	if a.TargetRef == nil {
		return true
	}
	return a.TargetRef.UID < b.TargetRef.UID
}

func sortSubsets(subsets []v1.EndpointSubset) []v1.EndpointSubset {
	for i := range subsets {
		ss := &subsets[i]
		sort.Slice(ss.Addresses, func(a, b int) bool { return lessEndpointAddress(&ss.Addresses[a], &ss.Addresses[b]) })
		sort.Slice(ss.NotReadyAddresses, func(a, b int) bool {
			return lessEndpointAddress(&ss.NotReadyAddresses[a], &ss.NotReadyAddresses[b])
		})
		sort.Slice(ss.Ports, func(a, b int) bool {
			return bytes.Compare(hashObject(md5.New(), ss.Ports[a]), hashObject(md5.New(), ss.Ports[b])) < 0
		})
	}
	sort.Slice(subsets, func(a, b int) bool {
		return bytes.Compare(hashObject(md5.New(), subsets[a]), hashObject(md5.New(), subsets[b])) < 0
	})
	return subsets
}

// hashObject hashes obj the way upstream's hashutil.DeepHashObject does.
func hashObject(h hash.Hash, obj any) []byte {
	h.Reset()
	fmt.Fprintf(h, "%v", dump.ForHash(obj))
	return h.Sum(nil)
}
