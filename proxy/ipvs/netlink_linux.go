package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkHandle is the real Netlink, over one rtnetlink handle (of the caller's network
// namespace, or of another one for tests).
type NetlinkHandle struct {
	h *netlink.Handle
}

var _ Netlink = (*NetlinkHandle)(nil)

// NewNetlink wraps h; nil means a new handle in the caller's network namespace. Handles
// must be opened with only unix.NETLINK_ROUTE (netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)):
// the default also opens XFRM, which fails on kernels without xfrm_user.
func NewNetlink(h *netlink.Handle) (*NetlinkHandle, error) {
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return nil, fmt.Errorf("open rtnetlink: %w", err)
		}
	}
	return &NetlinkHandle{h: h}, nil
}

func notFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf)
}

// EnsureDummyDevice implements Netlink. Like upstream, the device stays down: the kernel
// adds local routes for its addresses anyway, and a down device never answers ARP for them.
func (n *NetlinkHandle) EnsureDummyDevice(_ context.Context, name string) error {
	if _, err := n.h.LinkByName(name); err == nil {
		return nil
	} else if !notFound(err) {
		return fmt.Errorf("look up %s: %w", name, err)
	}
	dummy := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := n.h.LinkAdd(dummy); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create dummy device %s: %w", name, err)
	}
	return nil
}

// DeleteDummyDevice implements Netlink.
func (n *NetlinkHandle) DeleteDummyDevice(_ context.Context, name string) error {
	link, err := n.h.LinkByName(name)
	if notFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("look up %s: %w", name, err)
	}
	if err := n.h.LinkDel(link); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Addresses implements Netlink.
func (n *NetlinkHandle) Addresses(_ context.Context, dev string) ([]netip.Addr, error) {
	link, err := n.h.LinkByName(dev)
	if notFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("look up %s: %w", dev, err)
	}
	addrs, err := n.h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", dev, err)
	}
	return toAddrs(addrs), nil
}

func toAddrs(addrs []netlink.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

func ipNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// AddAddress implements Netlink.
func (n *NetlinkHandle) AddAddress(_ context.Context, dev string, a netip.Addr) error {
	link, err := n.h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("look up %s: %w", dev, err)
	}
	if err := n.h.AddrAdd(link, &netlink.Addr{IPNet: ipNet(a)}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("bind %s to %s: %w", a, dev, err)
	}
	return nil
}

// DelAddress implements Netlink.
func (n *NetlinkHandle) DelAddress(_ context.Context, dev string, a netip.Addr) error {
	link, err := n.h.LinkByName(dev)
	if notFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("look up %s: %w", dev, err)
	}
	if err := n.h.AddrDel(link, &netlink.Addr{IPNet: ipNet(a)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("unbind %s from %s: %w", a, dev, err)
	}
	return nil
}

// LocalAddresses implements Netlink.
func (n *NetlinkHandle) LocalAddresses(_ context.Context, exceptDev string) ([]netip.Addr, error) {
	skip := -1
	if link, err := n.h.LinkByName(exceptDev); err == nil {
		skip = link.Attrs().Index
	}
	addrs, err := n.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list local addresses: %w", err)
	}
	var keep []netlink.Addr
	for _, a := range addrs {
		if a.LinkIndex != skip {
			keep = append(keep, a)
		}
	}
	return toAddrs(keep), nil
}
