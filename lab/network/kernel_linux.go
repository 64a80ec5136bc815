package network

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linuxKernel is the real Kernel: netlink handles per namespace, namespaces bind-mounted under
// NetNSDir, sysctls written from a thread inside the namespace.
type linuxKernel struct {
	stateRoot string

	mu      sync.Mutex
	handles map[string]*netlink.Handle

	nsMu sync.Mutex // serialises NetNSDir setup and teardown
}

// NewKernel returns the real Kernel. stateRoot holds its one file: a marker saying whether
// svclab created NetNSDir or its mount, so removing the last namespace can undo that.
func NewKernel(stateRoot string) Kernel {
	return &linuxKernel{stateRoot: stateRoot, handles: map[string]*netlink.Handle{}}
}

func nsPath(name string) string { return filepath.Join(NetNSDir, name) }

func (k *linuxKernel) markerPath() string { return filepath.Join(k.stateRoot, "netns-dir.json") }

func (k *linuxKernel) handle(ns string) (*netlink.Handle, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if h, ok := k.handles[ns]; ok {
		return h, nil
	}
	var h *netlink.Handle
	var err error
	if ns == "" {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		var nsh netns.NsHandle
		nsh, err = netns.GetFromPath(nsPath(ns))
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", ns, err)
		}
		defer nsh.Close()
		h, err = netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle for %s: %w", nsLabel(ns), err)
	}
	k.handles[ns] = h
	return h, nil
}

func (k *linuxKernel) dropHandle(ns string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if h, ok := k.handles[ns]; ok {
		h.Close()
		delete(k.handles, ns)
	}
}

func nsLabel(ns string) string {
	if ns == "" {
		return "the host namespace"
	}
	return "namespace " + ns
}

func (k *linuxKernel) CreateNetNS(name string) error {
	k.dropHandle(name)
	k.nsMu.Lock()
	defer k.nsMu.Unlock()
	if err := ensureNetNSDir(k.markerPath()); err != nil {
		return err
	}
	return createNamedNetNS(name)
}

func (k *linuxKernel) DeleteNetNS(name string) error {
	k.dropHandle(name)
	k.nsMu.Lock()
	defer k.nsMu.Unlock()
	if err := deleteNamedNetNS(name); err != nil {
		return err
	}
	if err := restoreNetNSDir(k.markerPath()); err != nil {
		return fmt.Errorf("restore %s: %w", NetNSDir, err)
	}
	return nil
}

// restoreNetNSDir lets Teardown undo ensureNetNSDir even when a crash came before the first
// namespace existed.
func (k *linuxKernel) restoreNetNSDir() error {
	k.nsMu.Lock()
	defer k.nsMu.Unlock()
	return restoreNetNSDir(k.markerPath())
}

func (k *linuxKernel) NetNSNames() ([]string, error) {
	entries, err := os.ReadDir(NetNSDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

func (k *linuxKernel) link(ns, name string) (*netlink.Handle, netlink.Link, error) {
	h, err := k.handle(ns)
	if err != nil {
		return nil, nil, err
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("link %s in %s: %w", name, nsLabel(ns), err)
	}
	return h, l, nil
}

func (k *linuxKernel) AddBridge(ns, name, alias string) error {
	h, err := k.handle(ns)
	if err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("add bridge %s in %s: %w", name, nsLabel(ns), err)
	}
	return k.setAlias(h, ns, name, alias)
}

// setAlias tags a new link; the kernel ignores IFLA_IFALIAS in the creating request, so it
// takes a second one. A link that cannot be tagged is deleted.
func (k *linuxKernel) setAlias(h *netlink.Handle, ns, name, alias string) error {
	l, err := h.LinkByName(name)
	if err == nil {
		if err = h.LinkSetAlias(l, alias); err != nil {
			h.LinkDel(l)
		}
	}
	if err != nil {
		return fmt.Errorf("set alias of %s in %s: %w", name, nsLabel(ns), err)
	}
	return nil
}

func (k *linuxKernel) AddVeth(ns, name, alias, peerNS, peerName string) error {
	h, err := k.handle(ns)
	if err != nil {
		return err
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName}
	if peerNS != ns {
		var nsh netns.NsHandle
		if peerNS == "" {
			nsh, err = netns.GetFromPid(os.Getpid())
		} else {
			nsh, err = netns.GetFromPath(nsPath(peerNS))
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", nsLabel(peerNS), err)
		}
		defer nsh.Close()
		veth.PeerNamespace = netlink.NsFd(nsh)
	}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s in %s (peer %s in %s): %w", name, nsLabel(ns), peerName, nsLabel(peerNS), err)
	}
	return k.setAlias(h, ns, name, alias)
}

func (k *linuxKernel) SetMaster(ns, link, master string) error {
	h, l, err := k.link(ns, link)
	if err != nil {
		return err
	}
	_, m, err := k.link(ns, master)
	if err != nil {
		return err
	}
	if err := h.LinkSetMasterByIndex(l, m.Attrs().Index); err != nil {
		return fmt.Errorf("attach %s to %s in %s: %w", link, master, nsLabel(ns), err)
	}
	return nil
}

func (k *linuxKernel) SetUp(ns, link string) error {
	h, l, err := k.link(ns, link)
	if err != nil {
		return err
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up in %s: %w", link, nsLabel(ns), err)
	}
	return nil
}

func (k *linuxKernel) DeleteLink(ns, link string) error {
	h, l, err := k.link(ns, link)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	} else if err != nil {
		return err
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s in %s: %w", link, nsLabel(ns), err)
	}
	return nil
}

func (k *linuxKernel) Links(ns string) ([]Link, error) {
	h, err := k.handle(ns)
	if err != nil {
		return nil, err
	}
	var links []netlink.Link
	for range 5 {
		if links, err = h.LinkList(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list links in %s: %w", nsLabel(ns), err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	out := make([]Link, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		out = append(out, Link{Name: a.Name, Kind: l.Type(), Alias: a.Alias, Master: names[a.MasterIndex], Up: a.Flags&net.FlagUp != 0})
	}
	return out, nil
}

func (k *linuxKernel) AddAddr(ns, link string, addr netip.Prefix) error {
	h, l, err := k.link(ns, link)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return fmt.Errorf("add address %s to %s in %s: %w", addr, link, nsLabel(ns), err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (k *linuxKernel) toNetlink(ns string, r Route) (*netlink.Route, error) {
	nr := &netlink.Route{Table: r.Table, Protocol: netlink.RouteProtocol(r.Protocol), Realm: r.Realm, Priority: r.Metric, Type: unix.RTN_UNICAST, Family: netlink.FAMILY_V4}
	if nr.Table == 0 {
		nr.Table = unix.RT_TABLE_MAIN
	}
	if r.Dst.IsValid() {
		nr.Dst = ipNet(r.Dst)
	} else {
		nr.Dst = ipNet(netip.MustParsePrefix("0.0.0.0/0"))
	}
	if r.Type == RouteUnreachable {
		nr.Type = unix.RTN_UNREACHABLE
	}
	if r.Gw.IsValid() {
		nr.Gw = net.IP(r.Gw.AsSlice())
	}
	if r.Dev != "" {
		_, l, err := k.link(ns, r.Dev)
		if err != nil {
			return nil, err
		}
		nr.LinkIndex = l.Attrs().Index
		if !r.Gw.IsValid() && nr.Type == unix.RTN_UNICAST {
			nr.Scope = netlink.SCOPE_LINK
		}
	}
	if r.OnLink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr, nil
}

func (k *linuxKernel) AddRoute(ns string, r Route) error {
	h, err := k.handle(ns)
	if err != nil {
		return err
	}
	nr, err := k.toNetlink(ns, r)
	if err == nil {
		err = h.RouteAdd(nr)
	}
	if err != nil {
		return fmt.Errorf("add route %q in %s: %w", r, nsLabel(ns), err)
	}
	return nil
}

func (k *linuxKernel) DeleteRoute(ns string, r Route) error {
	h, err := k.handle(ns)
	if err != nil {
		return err
	}
	nr, err := k.toNetlink(ns, r)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil // the device went, and its routes with it
	}
	if err == nil {
		err = h.RouteDel(nr)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("delete route %q in %s: %w", r, nsLabel(ns), err)
	}
	return nil
}

var routeTypeNames = map[int]string{
	unix.RTN_UNICAST: RouteUnicast, unix.RTN_UNREACHABLE: RouteUnreachable, unix.RTN_LOCAL: "local",
	unix.RTN_BROADCAST: "broadcast", unix.RTN_ANYCAST: "anycast", unix.RTN_MULTICAST: "multicast",
	unix.RTN_BLACKHOLE: "blackhole", unix.RTN_PROHIBIT: "prohibit", unix.RTN_THROW: "throw", unix.RTN_NAT: "nat",
}

func (k *linuxKernel) Routes(ns string) ([]Route, error) {
	h, err := k.handle(ns)
	if err != nil {
		return nil, err
	}
	idx := map[int]string{}
	if ll, err := h.LinkList(); err == nil || errors.Is(err, netlink.ErrDumpInterrupted) {
		for _, l := range ll {
			idx[l.Attrs().Index] = l.Attrs().Name
		}
	}
	var nrs []netlink.Route
	for range 5 {
		nrs, err = h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", nsLabel(ns), err)
	}
	out := make([]Route, 0, len(nrs))
	for _, nr := range nrs {
		r := Route{Type: routeTypeNames[nr.Type], Dev: idx[nr.LinkIndex], Table: nr.Table, Protocol: int(nr.Protocol), Realm: nr.Realm, Metric: nr.Priority}
		if r.Type == "" {
			r.Type = fmt.Sprint(nr.Type)
		}
		if nr.Dst != nil {
			if p, ok := prefixOf(nr.Dst); ok && p.Bits() > 0 {
				r.Dst = p
			}
		}
		if a, ok := netip.AddrFromSlice(nr.Gw); ok {
			r.Gw = a.Unmap()
		}
		switch nr.Scope {
		case netlink.SCOPE_LINK:
			r.Scope = "link"
		case netlink.SCOPE_HOST:
			r.Scope = "host"
		}
		r.OnLink = nr.Flags&int(netlink.FLAG_ONLINK) != 0
		var hops []string
		for _, nh := range nr.MultiPath {
			hops = append(hops, fmt.Sprintf("via %s dev %s", nh.Gw, idx[nh.LinkIndex]))
		}
		r.Nexthops = strings.Join(hops, ", ")
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Table == unix.RT_TABLE_MAIN && out[j].Table != unix.RT_TABLE_MAIN })
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func (k *linuxKernel) SetSysctl(ns, key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	write := func() error { return os.WriteFile(path, []byte(value), 0o644) }
	var err error
	if ns == "" {
		err = write()
	} else {
		err = RunInNamespace(nsPath(ns), write)
	}
	if err != nil {
		return fmt.Errorf("set %s=%s in %s: %w", key, value, nsLabel(ns), err)
	}
	return nil
}
