package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/svclab/svclab/lab/network"
)

// hostRoutes is the real Routes: routes in the host namespace's main table, tagged like the
// lab network's own host routes (protocol network.ProtoSvclab, the lab's realm), so
// network.Teardown finds them. A multipath route cannot carry a realm outside its next hops,
// which the netlink library does not set; such routes go via the lab bridge and vanish with it.
type hostRoutes struct {
	pool  netip.Prefix
	realm int
	h     *netlink.Handle
}

// NewRoutes returns the real Routes for lab's LoadBalancer pool. It refuses to touch a route
// outside pool.
func NewRoutes(lab string, pool netip.Prefix) (Routes, error) {
	if _, err := newPool(pool); err != nil {
		return nil, err
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("cloud: netlink handle: %w", err)
	}
	return &hostRoutes{pool: pool, realm: network.LabRealm(lab), h: h}, nil
}

func (r *hostRoutes) inPool(dst netip.Prefix) error {
	if !dst.IsValid() || !r.pool.Contains(dst.Addr()) || dst.Bits() < r.pool.Bits() {
		return fmt.Errorf("cloud: refusing to route %s: outside the pool %s", dst, r.pool)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

func (r *hostRoutes) Replace(_ context.Context, rt Route) error {
	if err := r.inPool(rt.Dst); err != nil {
		return err
	}
	nr := &netlink.Route{Dst: ipNet(rt.Dst), Table: unix.RT_TABLE_MAIN, Protocol: network.ProtoSvclab, Family: netlink.FAMILY_V4, Type: unix.RTN_UNICAST}
	switch len(rt.Via) {
	case 0:
		nr.Type, nr.Realm = unix.RTN_UNREACHABLE, r.realm
	case 1:
		nr.Gw, nr.Realm = rt.Via[0].AsSlice(), r.realm
	default:
		// The kernel takes a route's realm from its next hops and rejects a different one
		// at the top level, so this one goes untagged by realm.
		for _, v := range rt.Via {
			nr.MultiPath = append(nr.MultiPath, &netlink.NexthopInfo{Gw: v.AsSlice()})
		}
	}
	if err := r.h.RouteReplace(nr); err != nil {
		return fmt.Errorf("cloud: replace route %s: %w", rt, err)
	}
	return nil
}

func (r *hostRoutes) Delete(_ context.Context, dst netip.Prefix) error {
	if err := r.inPool(dst); err != nil {
		return err
	}
	nr := &netlink.Route{Dst: ipNet(dst), Table: unix.RT_TABLE_MAIN, Protocol: network.ProtoSvclab, Family: netlink.FAMILY_V4}
	if err := r.h.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("cloud: delete route %s: %w", dst, err)
	}
	return nil
}

func (r *hostRoutes) List(context.Context) ([]Route, error) {
	var nrs []netlink.Route
	var err error
	for range 5 {
		nrs, err = r.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: network.ProtoSvclab},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cloud: list routes: %w", err)
	}
	var out []Route
	for _, nr := range nrs {
		if nr.Dst == nil {
			continue
		}
		a, _ := netip.AddrFromSlice(nr.Dst.IP)
		ones, _ := nr.Dst.Mask.Size()
		dst := netip.PrefixFrom(a.Unmap(), ones)
		if r.inPool(dst) != nil || (nr.Realm != r.realm && len(nr.MultiPath) == 0) {
			continue
		}
		rt := Route{Dst: dst}
		if gw, ok := netip.AddrFromSlice(nr.Gw); ok {
			rt.Via = append(rt.Via, gw.Unmap())
		}
		for _, nh := range nr.MultiPath {
			if gw, ok := netip.AddrFromSlice(nh.Gw); ok {
				rt.Via = append(rt.Via, gw.Unmap())
			}
		}
		slices.SortFunc(rt.Via, netip.Addr.Compare)
		out = append(out, rt)
	}
	return out, nil
}
