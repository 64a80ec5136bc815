package ipvstest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
)

// Netlink is a fake of ipvs.Netlink: devices with addresses, plus the node's own
// addresses on a device named "eth0" (and 127.0.0.1 on "lo").
type Netlink struct {
	mu sync.Mutex
	// Calls logs mutating calls, e.g. "AddAddress kube-ipvs0 172.30.0.41".
	Calls   []string
	devices map[string][]netip.Addr
}

// NewNetlink returns a node with lo (127.0.0.1) and eth0 holding nodeIPs.
func NewNetlink(nodeIPs ...netip.Addr) *Netlink {
	return &Netlink{devices: map[string][]netip.Addr{
		"lo":   {netip.MustParseAddr("127.0.0.1")},
		"eth0": slices.Clone(nodeIPs),
	}}
}

func (f *Netlink) log(format string, args ...any) {
	f.Calls = append(f.Calls, fmt.Sprintf(format, args...))
}

// EnsureDummyDevice implements ipvs.Netlink.
func (f *Netlink) EnsureDummyDevice(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[name]; !ok {
		f.log("EnsureDummyDevice %s", name)
		f.devices[name] = nil
	}
	return nil
}

// DeleteDummyDevice implements ipvs.Netlink.
func (f *Netlink) DeleteDummyDevice(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[name]; ok {
		f.log("DeleteDummyDevice %s", name)
		delete(f.devices, name)
	}
	return nil
}

// HasDevice reports whether the device exists.
func (f *Netlink) HasDevice(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.devices[name]
	return ok
}

// Addresses implements ipvs.Netlink.
func (f *Netlink) Addresses(_ context.Context, dev string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.devices[dev])
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// AddAddress implements ipvs.Netlink.
func (f *Netlink) AddAddress(_ context.Context, dev string, a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	addrs, ok := f.devices[dev]
	if !ok {
		return fmt.Errorf("link %s not found", dev)
	}
	if !slices.Contains(addrs, a) {
		f.log("AddAddress %s %s", dev, a)
		f.devices[dev] = append(addrs, a)
	}
	return nil
}

// DelAddress implements ipvs.Netlink.
func (f *Netlink) DelAddress(_ context.Context, dev string, a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.Index(f.devices[dev], a); i >= 0 {
		f.log("DelAddress %s %s", dev, a)
		f.devices[dev] = slices.Delete(f.devices[dev], i, i+1)
	}
	return nil
}

// LocalAddresses implements ipvs.Netlink.
func (f *Netlink) LocalAddresses(_ context.Context, exceptDev string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Addr
	for dev, addrs := range f.devices {
		if dev != exceptDev {
			out = append(out, addrs...)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}
