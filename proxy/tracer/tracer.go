// Package tracer explains what a node does with a packet: it reads the node's live rules
// in whatever mode kube-proxy runs (iptables-save, the nft table, the IPVS table, the
// userspace proxy's table) and hands them to that mode's tracer.
package tracer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/svclab/svclab/proxy/iptables"
	"github.com/svclab/svclab/proxy/ipvs"
	"github.com/svclab/svclab/proxy/nftables"
	"github.com/svclab/svclab/proxy/trace"
	"github.com/svclab/svclab/proxy/userspace"
)

// Source reads one node's live state. Local is the implementation for the network
// namespace the caller runs in; tests use fakes.
type Source interface {
	// Mode is the proxy mode in use ("" when it cannot be told).
	Mode(ctx context.Context) (string, error)
	IPTablesSave(ctx context.Context) (string, error)
	NFTRuleset(ctx context.Context) (string, error)
	UserspaceTable(ctx context.Context) (userspace.Table, error)
	IPVSTable(ctx context.Context) (*ipvs.Table, error)
	// LocalAddrs are the node's own IPv4 addresses, primary first.
	LocalAddrs(ctx context.Context) ([]netip.Addr, error)
}

// Trace follows pkt through the node src describes. An empty mode is detected. The
// result's Mode names the mode whose rules were read.
func Trace(ctx context.Context, src Source, mode string, pkt trace.Packet) (*trace.Result, error) {
	res, mode, err := traceMode(ctx, src, mode, pkt)
	if res != nil {
		res.Mode = mode
	}
	return res, err
}

func traceMode(ctx context.Context, src Source, mode string, pkt trace.Packet) (*trace.Result, string, error) {
	addrs, err := src.LocalAddrs(ctx)
	if err != nil {
		return nil, mode, fmt.Errorf("read the node's addresses: %w", err)
	}
	if pkt.Origin == "" {
		// A packet from one of the node's own addresses is sent by the node itself.
		pkt.Origin = trace.FromNetwork
		for _, a := range addrs {
			if a == pkt.Src || pkt.Src.IsLoopback() {
				pkt.Origin = trace.FromNode
			}
		}
	}
	if mode == "" {
		if mode, err = DetectMode(ctx, src); err != nil {
			return nil, mode, err
		}
	}
	switch mode {
	case "iptables":
		save, err := src.IPTablesSave(ctx)
		if err != nil {
			return nil, mode, err
		}
		res, err := iptables.Trace(save, pkt, iptables.NodeInfo{LocalAddrs: addrs})
		return res, mode, err
	case "nftables":
		rules, err := src.NFTRuleset(ctx)
		if err != nil {
			return nil, mode, err
		}
		res, err := nftables.Trace(rules, pkt, nftables.NodeInfo{Addrs: addrs})
		return res, mode, err
	case "userspace":
		save, err := src.IPTablesSave(ctx)
		if err != nil {
			return nil, mode, err
		}
		table, err := src.UserspaceTable(ctx)
		if err != nil {
			return nil, mode, err
		}
		res, err := userspace.Trace(save, table, pkt, userspace.NodeInfo{LocalAddrs: addrs})
		return res, mode, err
	case "ipvs":
		table, err := src.IPVSTable(ctx)
		if err != nil {
			return nil, mode, err
		}
		res, err := ipvs.Trace(*table, pkt, ipvs.NodeInfo{NodeIPs: addrs})
		return res, mode, err
	}
	return nil, mode, fmt.Errorf("unknown proxy mode %q", mode)
}

// DetectMode asks kube-proxy (/proxyMode), and failing that looks at the rules.
func DetectMode(ctx context.Context, src Source) (string, error) {
	if m, err := src.Mode(ctx); err == nil && m != "" {
		return m, nil
	}
	if rules, err := src.NFTRuleset(ctx); err == nil && strings.Contains(rules, "table ip kube-proxy") {
		return "nftables", nil
	}
	save, err := src.IPTablesSave(ctx)
	if err == nil {
		switch {
		case strings.Contains(save, ":KUBE-PORTALS-CONTAINER"):
			return "userspace", nil
		case strings.Contains(save, "KUBE-IPVS") || strings.Contains(save, "KUBE-LOAD-BALANCER"):
			return "ipvs", nil
		case strings.Contains(save, ":KUBE-SERVICES"):
			return "iptables", nil
		}
	}
	return "", errors.New("no kube-proxy rules found on this node: is kube-proxy running? (kubectl -n kube-system get pods -l k8s-app=kube-proxy)")
}

// ParsePacket reads the --from and --to arguments: "IP[:PORT]" and "IP:PORT[/tcp|udp]".
func ParsePacket(from, to string) (trace.Packet, error) {
	var pkt trace.Packet
	proto := "tcp"
	if i := strings.LastIndex(to, "/"); i >= 0 {
		proto = strings.ToLower(to[i+1:])
		to = to[:i]
	}
	if proto != "tcp" && proto != "udp" {
		return pkt, fmt.Errorf("--to %q: the protocol must be tcp or udp", to)
	}
	dst, err := netip.ParseAddrPort(to)
	if err != nil {
		return pkt, fmt.Errorf("--to %q: want IP:PORT[/tcp|udp]", to)
	}
	pkt.Dst, pkt.DstPort, pkt.Protocol = dst.Addr(), int(dst.Port()), proto
	if ap, err := netip.ParseAddrPort(from); err == nil {
		pkt.Src, pkt.SrcPort = ap.Addr(), int(ap.Port())
	} else if a, err := netip.ParseAddr(from); err == nil {
		pkt.Src = a
	} else {
		return pkt, fmt.Errorf("--from %q: want IP[:PORT]", from)
	}
	if !pkt.Src.Is4() || !pkt.Dst.Is4() {
		return pkt, errors.New("the lab is IPv4-only: give IPv4 addresses")
	}
	if pkt.SrcPort == 0 {
		pkt.SrcPort = 40000
	}
	return pkt, nil
}
