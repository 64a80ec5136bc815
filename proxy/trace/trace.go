// Package trace holds the packet tracer's vocabulary: the packet to follow, the steps of
// its walk through a node's rules, and the verdict. Each proxy mode's package has the
// tracer that reads that mode's live rules and returns a Result.
package trace

import (
	"fmt"
	"net/netip"
	"strings"
)

// Origin is where a packet enters the node's rules.
type Origin string

const (
	// FromNetwork is a packet from a pod on the node, or from outside the node (host,
	// other nodes): it enters through PREROUTING.
	FromNetwork Origin = "network"
	// FromNode is a packet sent by a process in the node's own namespace (hostNetwork
	// pods, `svclab node exec`): it enters through OUTPUT.
	FromNode Origin = "node"
)

// Packet is the first packet of a flow.
type Packet struct {
	Origin   Origin
	Src      netip.Addr
	SrcPort  int // 0 means any
	Dst      netip.Addr
	DstPort  int
	Protocol string // "tcp" or "udp"
}

// String is "tcp 10.0.0.1:1234 -> 172.30.0.41:80".
func (p Packet) String() string {
	src := p.Src.String()
	if p.SrcPort != 0 {
		src = netip.AddrPortFrom(p.Src, uint16(p.SrcPort)).String()
	}
	return fmt.Sprintf("%s %s -> %s", p.Protocol, src, netip.AddrPortFrom(p.Dst, uint16(p.DstPort)))
}

// Step is one rule (or map lookup, or IPVS/userspace table entry) the packet met.
type Step struct {
	// Where is the table and chain ("nat/KUBE-SERVICES"), nft chain or map, "ipvs" or
	// "userspace".
	Where string
	// Rule is the rule as the kernel shows it (an iptables-save line, an nft rule, ...).
	Rule string
	// Note explains the step for a learner ("matches the ClusterIP of default/web:http").
	Note string
}

// Verdict is what finally happens to the packet.
type Verdict string

const (
	// Forwarded: DNAT to one of the Endpoints (possibly after masquerade).
	Forwarded Verdict = "forwarded"
	// Rejected: an ICMP/TCP reset answer (a Service without endpoints).
	Rejected Verdict = "rejected"
	// Dropped: silently dropped (e.g. Local policy and no local endpoint).
	Dropped Verdict = "dropped"
	// Untouched: no Service rule applied; the packet is routed normally.
	Untouched Verdict = "untouched"
	// Proxied: delivered to the userspace proxy, which opens a new connection to an
	// endpoint.
	Proxied Verdict = "proxied"
)

// Choice is one endpoint the packet may be sent to, with its probability.
type Choice struct {
	Endpoint    netip.AddrPort
	Probability float64
	// Via names the chain, map element or real server that picks it.
	Via string
}

// Result is the walk of one packet.
type Result struct {
	// Mode is the kube-proxy mode whose rules were read (set by the tracer).
	Mode    string `json:",omitempty"`
	Packet  Packet
	Steps   []Step
	Verdict Verdict
	// Choices are the endpoints for Forwarded/Proxied packets; probabilities add up to 1.
	Choices []Choice
	// Masquerade reports whether the packet is SNATed to the node's address on the way
	// out (the client address is then lost).
	Masquerade bool
	// Affinity names the affinity mechanism when ClientIP session affinity applies (a
	// returning client skips the random choice).
	Affinity string
}

// String renders the walk for a person, one step per line.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "packet %s (from %s)\n", r.Packet, r.Packet.Origin)
	for i, s := range r.Steps {
		fmt.Fprintf(&b, "%2d. [%s] %s\n", i+1, s.Where, s.Rule)
		if s.Note != "" {
			fmt.Fprintf(&b, "      %s\n", s.Note)
		}
	}
	fmt.Fprintf(&b, "verdict: %s", r.Verdict)
	if r.Masquerade {
		b.WriteString(", masqueraded")
	}
	b.WriteString("\n")
	if r.Affinity != "" {
		fmt.Fprintf(&b, "affinity: %s\n", r.Affinity)
	}
	for _, c := range r.Choices {
		fmt.Fprintf(&b, "  -> %s  p=%.4f", c.Endpoint, c.Probability)
		if c.Via != "" {
			fmt.Fprintf(&b, "  via %s", c.Via)
		}
		b.WriteString("\n")
	}
	return b.String()
}
