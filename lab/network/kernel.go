package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ProtoSvclab is the route protocol number (RTPROT) svclab stamps on every route it adds, so
// `ip route` shows "proto 92" and Teardown can find its routes after a crash.
const ProtoSvclab = 0x5c

// NetNSDir is where named network namespaces are bind-mounted, as `ip netns add` does.
const NetNSDir = "/run/netns"

// Route types, as `ip route` names them.
const (
	RouteUnicast     = "unicast"
	RouteUnreachable = "unreachable"
)

// Route tables.
const (
	TableMain  = 254
	TableLocal = 255
)

// Link is a network interface as the Kernel reports it.
type Link struct {
	Name   string
	Kind   string // "bridge", "veth", "dummy", ... ("" when the kernel does not say)
	Alias  string // svclab tags its links with "svclab:<lab>:<what>"
	Master string // the bridge it is attached to, if any
	Up     bool
}

// Route is an IPv4 route. The zero Dst is the default route.
type Route struct {
	Type     string // RouteUnicast ("" means unicast) or RouteUnreachable; others when read back
	Dst      netip.Prefix
	Gw       netip.Addr
	Dev      string
	Table    int // 0 means TableMain
	Protocol int
	Scope    string // "link", "host" or "" (universe); set when read back, derived when added
	Realm    int
	OnLink   bool
	Metric   int
	// Nexthops describes a multipath route when read back ("via A dev X, via B dev Y").
	Nexthops string
}

// Kernel is the subset of netlink, namespaces and sysctls the network layer uses. ns names a
// namespace under NetNSDir; the empty string is the host (the process's own) namespace.
// NewKernel returns the real one; networktest.Kernel records calls for unit tests.
type Kernel interface {
	// CreateNetNS creates a named network namespace like `ip netns add`; it fails with an
	// error wrapping fs.ErrExist when the name is taken.
	CreateNetNS(name string) error
	// DeleteNetNS removes a named namespace like `ip netns delete`; a missing one is not an error.
	DeleteNetNS(name string) error
	// NetNSNames lists the names under NetNSDir.
	NetNSNames() ([]string, error)

	// AddBridge creates a bridge (down).
	AddBridge(ns, name, alias string) error
	// AddVeth creates a veth pair: name (with alias) in ns and peerName in peerNS (down).
	AddVeth(ns, name, alias, peerNS, peerName string) error
	// SetMaster attaches link to a bridge.
	SetMaster(ns, link, master string) error
	// SetUp brings a link up.
	SetUp(ns, link string) error
	// DeleteLink deletes a link; a missing one is not an error.
	DeleteLink(ns, link string) error
	// Links lists the links of ns.
	Links(ns string) ([]Link, error)
	// AddAddr adds an IPv4 address to a link.
	AddAddr(ns, link string, addr netip.Prefix) error

	// AddRoute adds a route; it fails if one with the same destination, table and metric exists.
	AddRoute(ns string, r Route) error
	// DeleteRoute deletes a route; a missing one is not an error.
	DeleteRoute(ns string, r Route) error
	// Routes lists the IPv4 routes of every table of ns.
	Routes(ns string) ([]Route, error)

	// SetSysctl writes a sysctl ("net.ipv4.ip_forward") inside ns.
	SetSysctl(ns, key, value string) error
}

// String formats r the way `ip route show table all` does, more or less.
func (r Route) String() string {
	var b strings.Builder
	if r.Type != "" && r.Type != RouteUnicast {
		b.WriteString(r.Type + " ")
	}
	if r.Dst.IsValid() && r.Dst.Bits() > 0 {
		if r.Dst.Bits() == r.Dst.Addr().BitLen() {
			b.WriteString(r.Dst.Addr().String())
		} else {
			b.WriteString(r.Dst.String())
		}
	} else {
		b.WriteString("default")
	}
	if r.Nexthops != "" {
		b.WriteString(" nexthops " + r.Nexthops)
	}
	if r.Gw.IsValid() {
		b.WriteString(" via " + r.Gw.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	switch r.Table {
	case 0, TableMain:
	case TableLocal:
		b.WriteString(" table local")
	default:
		b.WriteString(" table " + strconv.Itoa(r.Table))
	}
	if r.Protocol != 0 {
		b.WriteString(" proto " + protoName(r.Protocol))
	}
	if r.Scope != "" {
		b.WriteString(" scope " + r.Scope)
	}
	if r.Metric != 0 {
		b.WriteString(" metric " + strconv.Itoa(r.Metric))
	}
	if r.Realm != 0 {
		b.WriteString(" realm " + strconv.Itoa(r.Realm))
	}
	if r.OnLink {
		b.WriteString(" onlink")
	}
	return b.String()
}

func protoName(p int) string {
	switch p {
	case 2:
		return "kernel"
	case 3:
		return "boot"
	case 4:
		return "static"
	case 16:
		return "dhcp"
	case 186:
		return "bgp"
	}
	return fmt.Sprint(p)
}
