package userspace

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/svclab/svclab/proxy/iptables"
	"github.com/svclab/svclab/proxy/trace"
)

// NodeInfo is what the tracer needs to know about the node besides its rules.
type NodeInfo struct {
	Name string
	// LocalAddrs are the node's own addresses: what `-m addrtype --dst-type LOCAL` matches
	// (with 127.0.0.0/8), and the first is where REDIRECT delivers traffic from the network.
	LocalAddrs []netip.Addr
}

func (n NodeInfo) isLocal(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return true
	}
	for _, a := range n.LocalAddrs {
		if a == ip {
			return true
		}
	}
	return false
}

// Trace follows pkt through the userspace mode: the portal rules in save (iptables-save
// output, nat PREROUTING for FromNetwork and OUTPUT for FromNode) to the REDIRECT or DNAT
// to a proxy port, the filter rules for that port, and then the proxy's table: which
// endpoints the proxy may connect to. Only rules in built-in chains that jump to this
// mode's chains are followed; other programs' rules are not evaluated.
func Trace(save string, table Table, pkt trace.Packet, node NodeInfo) (*trace.Result, error) {
	if !pkt.Dst.IsValid() || pkt.DstPort <= 0 {
		return nil, errors.New("trace: the packet needs a destination address and port")
	}
	proto := strings.ToLower(pkt.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("trace: protocol %q is not supported (use tcp or udp)", pkt.Protocol)
	}
	pkt.Protocol = proto
	tables, err := iptables.ParseSave(save)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	res := &trace.Result{Packet: pkt, Verdict: trace.Untouched}
	f := flow{src: pkt.Src, dst: pkt.Dst, dstPort: pkt.DstPort, protocol: proto, fromNode: pkt.Origin == trace.FromNode, local: node.isLocal}

	hook := "PREROUTING"
	if f.fromNode {
		hook = "OUTPUT"
	}
	act, ok := walkHook(tables, "nat", hook, f, res)
	if !ok {
		res.Steps = append(res.Steps, trace.Step{Where: "nat/" + hook, Note: "no userspace portal rule matches: the packet is routed normally"})
		return res, nil
	}
	// The portal rule rewrote the destination to a proxy port.
	switch act.target {
	case "REDIRECT":
		port, err := strconv.Atoi(act.opts["--to-ports"])
		if err != nil {
			return nil, fmt.Errorf("trace: REDIRECT without a valid --to-ports: %q", act.opts["--to-ports"])
		}
		f.dstPort = port
		f.dst = netip.MustParseAddr("127.0.0.1")
		if len(node.LocalAddrs) > 0 {
			f.dst = node.LocalAddrs[0]
		}
	case "DNAT":
		ap, err := netip.ParseAddrPort(act.opts["--to-destination"])
		if err != nil {
			return nil, fmt.Errorf("trace: DNAT with an unexpected --to-destination %q: %w", act.opts["--to-destination"], err)
		}
		f.dst, f.dstPort = ap.Addr(), int(ap.Port())
	}

	// Now addressed to the node itself: filter INPUT.
	if act, ok := walkHook(tables, "filter", "INPUT", f, res); ok && act.target == "REJECT" {
		res.Verdict = trace.Rejected
		return res, nil
	}
	entry, found := table.Lookup(f.dstPort, proto)
	if !found {
		res.Steps = append(res.Steps, trace.Step{Where: "userspace", Rule: fmt.Sprintf("no listener on %s port %d", proto, f.dstPort),
			Note: "the proxy's table has no Service on this port (stale rules?): the connection is refused"})
		res.Verdict = trace.Rejected
		return res, nil
	}
	rule := fmt.Sprintf("%s:%d/%s -> %s (%s:%d)", table.ListenIP, entry.ProxyPort, proto, entry.Name, entry.ClusterIP, entry.Port)
	if len(entry.Endpoints) == 0 {
		res.Steps = append(res.Steps, trace.Step{Where: "userspace", Rule: rule, Note: "the Service port has no endpoints: the proxy closes the connection"})
		res.Verdict = trace.Rejected
		return res, nil
	}
	res.Verdict = trace.Proxied
	res.Masquerade = true
	how := "the proxy accepts the connection and opens a new one from the node to an endpoint"
	if proto == "udp" {
		how = "the proxy receives the datagram and forwards it from the node, over this client's session, to an endpoint"
	}
	note := fmt.Sprintf("%s: round robin over %d (next: %s)", how, len(entry.Endpoints), entry.Endpoints[entry.Next%len(entry.Endpoints)])
	res.Steps = append(res.Steps, trace.Step{Where: "userspace", Rule: rule, Note: note})
	if entry.Affinity != nil {
		res.Affinity = fmt.Sprintf("ClientIP, timeout %ds (userspace proxy affinity table)", entry.Affinity.TimeoutSeconds)
		for _, c := range entry.Affinity.Clients {
			if c.ClientIP == pkt.Src {
				res.Steps = append(res.Steps, trace.Step{Where: "userspace", Rule: fmt.Sprintf("affinity %s -> %s", c.ClientIP, c.Endpoint),
					Note: fmt.Sprintf("this client is pinned to %s for %ds more", c.Endpoint, c.ExpiresInSeconds)})
				res.Choices = []trace.Choice{{Endpoint: c.Endpoint, Probability: 1, Via: "affinity"}}
				return res, nil
			}
		}
	}
	for _, ep := range entry.Endpoints {
		res.Choices = append(res.Choices, trace.Choice{Endpoint: ep, Probability: 1 / float64(len(entry.Endpoints)), Via: "round robin"})
	}
	return res, nil
}

// walkHook walks the rules of a built-in chain that jump to this mode's chains, and the
// chains they jump to, recording each matching rule; it returns the first final action.
func walkHook(tables map[string]*iptables.Table, table, hook string, f flow, res *trace.Result) (action, bool) {
	t := tables[table]
	c := t.Chain(hook)
	if c == nil {
		return action{}, false
	}
	for _, r := range c.Rules {
		if !ownedChain(jumpTarget(r.Args)) {
			continue
		}
		ok, act := matchRule(r.Args, f)
		if !ok {
			continue
		}
		mark := len(res.Steps)
		res.Steps = append(res.Steps, trace.Step{Where: table + "/" + hook, Rule: r.Raw})
		if final, ok := walkChain(t, table, act.target, f, res, 0); ok {
			return final, true
		}
		// Nothing in that chain applied: leave it out of the walk.
		res.Steps = res.Steps[:mark]
	}
	return action{}, false
}

func walkChain(t *iptables.Table, table, chain string, f flow, res *trace.Result, depth int) (action, bool) {
	c := t.Chain(chain)
	if depth > 8 || c == nil {
		return action{}, false
	}
	for _, r := range c.Rules {
		ok, act := matchRule(r.Args, f)
		if !ok {
			continue
		}
		step := trace.Step{Where: table + "/" + chain, Rule: r.Raw}
		switch act.target {
		case "RETURN":
			res.Steps = append(res.Steps, step)
			return action{}, false
		case "REDIRECT":
			step.Note = fmt.Sprintf("redirect to the userspace proxy on this node, port %s", act.opts["--to-ports"])
		case "DNAT":
			step.Note = fmt.Sprintf("DNAT to the userspace proxy at %s", act.opts["--to-destination"])
		case "REJECT":
			step.Note = "the Service port has no endpoints: rejected at once"
		case "ACCEPT":
			step.Note = "accepted"
		case "":
			res.Steps = append(res.Steps, step)
			continue
		default:
			if t.Chain(act.target) != nil {
				mark := len(res.Steps)
				res.Steps = append(res.Steps, step)
				if final, ok := walkChain(t, table, act.target, f, res, depth+1); ok {
					return final, true
				}
				res.Steps = res.Steps[:mark]
				continue
			}
		}
		res.Steps = append(res.Steps, step)
		return act, true
	}
	return action{}, false
}
