package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Table is a serialisable snapshot of a node's IPVS state for the tracer: the virtual
// servers with their real servers, and the ipset members the masquerade rules match.
type Table struct {
	VirtualServers []VirtualServer `json:"virtualServers"`
	Sets           Sets            `json:"sets,omitempty"`
}

// VirtualServer is one IPVS virtual server.
type VirtualServer struct {
	Protocol  string         `json:"protocol"` // "TCP", "UDP", "SCTP"
	Address   netip.AddrPort `json:"address"`
	Scheduler string         `json:"scheduler"`
	// Persistent is ClientIP affinity, for Timeout seconds.
	Persistent  bool         `json:"persistent,omitempty"`
	Timeout     int          `json:"timeout,omitempty"`
	RealServers []RealServer `json:"realServers"`
}

// RealServer is one destination of a virtual server.
type RealServer struct {
	Address netip.AddrPort `json:"address"`
	Weight  int            `json:"weight"`
	// Masq is NAT forwarding (the only method kube-proxy uses).
	Masq        bool `json:"masq"`
	ActiveConns int  `json:"activeConns,omitempty"`
	InactConns  int  `json:"inactConns,omitempty"`
}

// String renders the table like `ipvsadm -Ln`.
func (t *Table) String() string {
	var b strings.Builder
	b.WriteString("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	for _, vs := range t.VirtualServers {
		fmt.Fprintf(&b, "%-4s %s %s", vs.Protocol, vs.Address, vs.Scheduler)
		if vs.Persistent {
			fmt.Fprintf(&b, " persistent %d", vs.Timeout)
		}
		b.WriteString("\n")
		for _, rs := range vs.RealServers {
			fwd := "Masq"
			if !rs.Masq {
				fwd = "Other"
			}
			fmt.Fprintf(&b, "  -> %-28s %-7s %-6d %-10d %d\n", rs.Address, fwd, rs.Weight, rs.ActiveConns, rs.InactConns)
		}
	}
	return b.String()
}

// ReadTable reads the live IPVS table through h and, when sets is not nil, the ipset
// members through sets.
func ReadTable(ctx context.Context, h Handle, sets IPSet) (*Table, error) {
	svcs, err := h.GetServices()
	if err != nil {
		return nil, fmt.Errorf("list IPVS virtual servers: %w", err)
	}
	t := &Table{}
	for _, s := range svcs {
		addr, _ := netip.AddrFromSlice(s.Address)
		vs := VirtualServer{
			Protocol:   protoName(s.Protocol),
			Address:    netip.AddrPortFrom(addr.Unmap(), s.Port),
			Scheduler:  s.SchedName,
			Persistent: s.Flags&flagPersistent != 0,
		}
		if vs.Persistent {
			vs.Timeout = int(s.Timeout)
		}
		dests, err := h.GetDestinations(s)
		if err != nil {
			return nil, fmt.Errorf("list real servers of %s: %w", serviceKey(s), err)
		}
		for _, d := range dests {
			vs.RealServers = append(vs.RealServers, RealServer{
				Address: destKey(d), Weight: d.Weight,
				Masq:        d.ConnectionFlags&0x7 == 0,
				ActiveConns: d.ActiveConnections, InactConns: d.InactiveConnections,
			})
		}
		slices.SortFunc(vs.RealServers, func(a, b RealServer) int { return a.Address.Compare(b.Address) })
		t.VirtualServers = append(t.VirtualServers, vs)
	}
	slices.SortFunc(t.VirtualServers, func(a, b VirtualServer) int {
		if c := a.Address.Compare(b.Address); c != 0 {
			return c
		}
		return strings.Compare(a.Protocol, b.Protocol)
	})
	if sets != nil {
		saved, err := sets.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("read ipsets: %w", err)
		}
		t.Sets = ParseIPSetSave(saved)
	}
	return t, nil
}
