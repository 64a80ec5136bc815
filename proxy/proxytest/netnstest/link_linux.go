package netnstest

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

// End is one end of a veth pair: its namespace, device name and addresses (CIDRs such as
// "10.180.0.1/24").
type End struct {
	NS    *NS
	Dev   string
	Addrs []string
}

// Veth creates a veth pair between a and b, adds each end's addresses and sets both ends
// up. The pair goes away with its namespaces.
func Veth(t testing.TB, a, b End) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a.Dev}, PeerName: b.Dev, PeerNamespace: netlink.NsFd(b.NS.handle)}
	if err := a.NS.nl.LinkAdd(veth); err != nil {
		t.Fatalf("create veth %s (%s) <-> %s (%s): %v", a.Dev, a.NS.Name, b.Dev, b.NS.Name, err)
	}
	for _, e := range []End{a, b} {
		for _, cidr := range e.Addrs {
			e.NS.AddAddr(t, e.Dev, cidr)
		}
		e.NS.LinkUp(t, e.Dev)
	}
}

// LinkUp sets device dev up.
func (ns *NS) LinkUp(t testing.TB, dev string) {
	t.Helper()
	l, err := ns.nl.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, ns.Name, err)
	}
	if err := ns.nl.LinkSetUp(l); err != nil {
		t.Fatalf("set %s up in %s: %v", dev, ns.Name, err)
	}
}

// AddAddr adds address cidr (e.g. "10.180.0.1/24") to device dev.
func (ns *NS) AddAddr(t testing.TB, dev, cidr string) {
	t.Helper()
	l, err := ns.nl.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, ns.Name, err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.nl.AddrAdd(l, a); err != nil {
		t.Fatalf("add %s to %s in %s: %v", cidr, dev, ns.Name, err)
	}
}

// RouteDev routes dst (a CIDR) out of device dev, as `ip route add DST dev DEV`.
func (ns *NS) RouteDev(t testing.TB, dst, dev string) {
	t.Helper()
	l, err := ns.nl.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, ns.Name, err)
	}
	_, n, err := net.ParseCIDR(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.nl.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: n, Scope: netlink.SCOPE_LINK}); err != nil {
		t.Fatalf("route %s dev %s in %s: %v", dst, dev, ns.Name, err)
	}
}

// DefaultVia adds the default route via gateway gw, as `ip route add default via GW`.
func (ns *NS) DefaultVia(t testing.TB, gw string) {
	t.Helper()
	ip := net.ParseIP(gw)
	if ip == nil {
		t.Fatalf("bad gateway %q", gw)
	}
	if err := ns.nl.RouteAdd(&netlink.Route{Gw: ip}); err != nil {
		t.Fatalf("default route via %s in %s: %v", gw, ns.Name, err)
	}
}
