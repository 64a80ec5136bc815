package iptables

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/svclab/svclab/proxy/trace"
)

// NodeInfo is what the tracer needs to know about the node whose rules it reads.
type NodeInfo struct {
	// LocalAddrs are the node's own addresses: `-m addrtype --dst-type LOCAL` (and
	// --src-type) match them. Loopback addresses are always local.
	LocalAddrs []netip.Addr
}

func (n NodeInfo) isLocal(a netip.Addr) bool {
	return a.IsLoopback() || slices.Contains(n.LocalAddrs, a)
}

// maxDepth bounds chain nesting, so a rule loop cannot hang the tracer.
const maxDepth = 64

// Trace follows the first packet of a flow through iptables-save output (nat and
// filter): nat PREROUTING (from the network) or OUTPUT (from the node), the routing
// decision, filter INPUT/FORWARD/OUTPUT, and nat POSTROUTING for masquerade. Random
// matches branch, so the result lists every endpoint the packet may reach with its
// probability; `-m recent` affinity checks are reported (a new client never matches
// them).
func Trace(save string, pkt trace.Packet, node NodeInfo) (*trace.Result, error) {
	tables, err := ParseSave(save)
	if err != nil {
		return nil, err
	}
	if !pkt.Src.IsValid() || !pkt.Dst.IsValid() {
		return nil, fmt.Errorf("trace %s: source and destination addresses are required", pkt)
	}
	if pkt.Protocol == "" {
		pkt.Protocol = "tcp"
	}
	w := &walker{tables: tables, node: node, parsed: map[*Rule]*parsedRule{}, res: &trace.Result{Packet: pkt}}
	start := flow{weight: 1, st: packetState{
		src: pkt.Src, dst: pkt.Dst, sport: pkt.SrcPort, dport: pkt.DstPort, proto: strings.ToLower(pkt.Protocol),
		srcLocal: node.isLocal, dstLocal: node.isLocal,
	}}
	first := "PREROUTING"
	if pkt.Origin == trace.FromNode {
		first = "OUTPUT"
	}
	flows, err := w.builtin("nat", first, start)
	if err != nil {
		return nil, err
	}
	var done []flow
	for i, f := range flows {
		w.quiet = i > 0
		if f.verdict == "DROP" || f.verdict == "REJECT" {
			done = append(done, f)
			continue
		}
		out, err := w.afterNAT(pkt.Origin, f)
		if err != nil {
			return nil, err
		}
		done = append(done, out...)
	}
	w.summarize(done)
	return w.res, nil
}

// flow is one branch of the walk.
type flow struct {
	st     packetState
	weight float64
	// verdict is "" while the packet continues, else ACCEPT, DROP, REJECT, DNAT,
	// REDIRECT or MASQUERADE (the last three end the nat table).
	verdict  string
	to       netip.AddrPort
	via      string
	redirect bool
	masq     bool
}

type walker struct {
	tables map[string]*Table
	node   NodeInfo
	parsed map[*Rule]*parsedRule
	res    *trace.Result
	// quiet records only DROP/REJECT steps (for the second and later branches, whose
	// filter walk repeats the first one's).
	quiet bool
}

func (w *walker) step(where, rule, note string, important bool) {
	if w.quiet && !important {
		return
	}
	w.res.Steps = append(w.res.Steps, trace.Step{Where: where, Rule: rule, Note: note})
}

// builtin walks a built-in chain and applies its policy to what falls off its end.
func (w *walker) builtin(table, chain string, f flow) ([]flow, error) {
	t := w.tables[table]
	c := t.Chain(chain)
	if c == nil {
		return []flow{f}, nil // table or chain not present: nothing to do
	}
	flows, err := w.run(table, chain, 0, f, 0)
	if err != nil {
		return nil, err
	}
	for i := range flows {
		if flows[i].verdict == "" && c.Policy != "" && c.Policy != "-" && c.Policy != "ACCEPT" {
			flows[i].verdict = c.Policy
			w.step(table+"/"+chain, ":"+chain+" "+c.Policy, "chain policy "+c.Policy, true)
		}
	}
	return flows, nil
}

func (w *walker) rule(r *Rule) (*parsedRule, error) {
	if pr, ok := w.parsed[r]; ok {
		return pr, nil
	}
	pr, err := parseRule(r.Args)
	if err != nil {
		return nil, fmt.Errorf("rule %q: %w", r.Raw, err)
	}
	w.parsed[r] = pr
	return pr, nil
}

// run walks chain from rule index from and returns the resulting branches.
func (w *walker) run(table, chain string, from int, f flow, depth int) ([]flow, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("trace: chains nest deeper than %d in %s (a loop?)", maxDepth, table)
	}
	c := w.tables[table].Chain(chain)
	where := table + "/" + chain
	if c == nil {
		w.step(where, "", "chain does not exist (the jump fails in the kernel too)", true)
		return []flow{f}, nil
	}
	var out []flow
	for i := from; i < len(c.Rules); i++ {
		r := c.Rules[i]
		pr, err := w.rule(r)
		if err != nil {
			return nil, err
		}
		if !matches(pr, &f.st) {
			continue
		}
		if pr.recentOp == "--rcheck" || pr.recentOp == "--update" {
			w.noteAffinity(pr)
			w.step(where, r.Raw, fmt.Sprintf("session affinity: a client seen in the last %ss goes to %s; this first packet's client is not in the list yet", pr.recentSeconds, pr.target), false)
			continue
		}
		if pr.probability < 1 {
			taken := f
			taken.weight *= pr.probability
			w.step(where, r.Raw, fmt.Sprintf("random: matches %.4f of what gets here (%.4f of all packets) -> %s", pr.probability, taken.weight, pr.target), false)
			branches, err := w.target(table, chain, i, pr, taken, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, branches...)
			f.weight *= 1 - pr.probability
			if f.weight < 1e-12 {
				return out, nil
			}
			continue
		}
		w.step(where, r.Raw, describe(pr), isFinal(pr.target))
		branches, err := w.target(table, chain, i, pr, f, depth)
		if err != nil {
			return nil, err
		}
		return append(out, branches...), nil
	}
	return append(out, f), nil
}

func matches(pr *parsedRule, st *packetState) bool {
	for _, m := range pr.matches {
		if !m.eval(st) {
			return false
		}
	}
	return true
}

func isFinal(target string) bool { return target == "DROP" || target == "REJECT" }

func (w *walker) noteAffinity(pr *parsedRule) {
	if w.res.Affinity == "" {
		w.res.Affinity = fmt.Sprintf("ClientIP for %ss (-m recent lists named after the KUBE-SEP chains): a returning client skips the random choice", pr.recentSeconds)
	}
}

// target applies the matched rule i of chain to f.
func (w *walker) target(table, chain string, i int, pr *parsedRule, f flow, depth int) ([]flow, error) {
	cont := func(f flow) ([]flow, error) { return w.run(table, chain, i+1, f, depth) }
	switch pr.target {
	case "":
		return cont(f)
	case "ACCEPT", "DROP", "REJECT":
		f.verdict = pr.target
		return []flow{f}, nil
	case "RETURN":
		return []flow{f}, nil
	case "MARK":
		f.st.mark = applyMark(f.st.mark, pr.targetArgs)
		return cont(f)
	case "MASQUERADE", "SNAT":
		f.masq = true
		f.verdict = "MASQUERADE"
		return []flow{f}, nil
	case "DNAT":
		to, err := parseDestination(pr.targetArgs["--to-destination"], f.st.dport)
		if err != nil {
			return nil, err
		}
		f.st.dst, f.st.dport, f.st.dnat = to.Addr(), int(to.Port()), true
		f.to, f.via, f.verdict = to, chain, "DNAT"
		return []flow{f}, nil
	case "REDIRECT":
		port, err := strconv.Atoi(strings.Split(pr.targetArgs["--to-ports"], "-")[0])
		if err != nil {
			return nil, fmt.Errorf("REDIRECT without --to-ports in %s", chain)
		}
		addr := netip.MustParseAddr("127.0.0.1")
		if len(w.node.LocalAddrs) > 0 && w.res.Packet.Origin != trace.FromNode {
			addr = w.node.LocalAddrs[0]
		}
		f.to, f.via, f.verdict, f.redirect = netip.AddrPortFrom(addr, uint16(port)), chain, "REDIRECT", true
		f.st.dst, f.st.dport, f.st.dnat = addr, port, true
		return []flow{f}, nil
	}
	if builtinTargets[pr.target] { // LOG, CT, ...: no effect on the walk
		return cont(f)
	}
	sub, err := w.run(table, pr.target, 0, f, depth+1)
	if err != nil {
		return nil, err
	}
	var out []flow
	for _, s := range sub {
		if s.verdict != "" || pr.goTo {
			out = append(out, s)
			continue
		}
		more, err := cont(s)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

func parseDestination(s string, port int) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad --to-destination %q", s)
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// describe explains a matched rule's action.
func describe(pr *parsedRule) string {
	var what string
	switch pr.target {
	case "":
		what = "no target: the packet goes on to the next rule"
	case "KUBE-MARK-MASQ":
		what = "marked for masquerade (SNAT to the node's address on the way out)"
	case "DNAT":
		what = "DNAT to " + pr.targetArgs["--to-destination"]
	case "REJECT":
		what = "rejected (the client gets an error at once)"
	case "DROP":
		what = "dropped (the client times out)"
	case "MARK":
		what = "changes the packet mark"
	case "MASQUERADE":
		what = "masqueraded: source address becomes the node's"
	case "RETURN":
		what = "returns to the calling chain"
	case "ACCEPT":
		what = "accepted"
	default:
		what = "jump to " + pr.target
	}
	if pr.comment != "" {
		return fmt.Sprintf("%s (%q)", what, pr.comment)
	}
	return what
}

// afterNAT routes a flow that left the first nat chain and walks filter and POSTROUTING.
func (w *walker) afterNAT(origin trace.Origin, f flow) ([]flow, error) {
	if f.verdict != "DROP" && f.verdict != "REJECT" {
		f.verdict = ""
	}
	filterChain, post := "FORWARD", true
	switch {
	case origin == trace.FromNode:
		filterChain = "OUTPUT"
		w.step("routing", "", fmt.Sprintf("sent by the node to %s: filter OUTPUT, then nat POSTROUTING", f.st.dst), false)
	case w.node.isLocal(f.st.dst):
		filterChain, post = "INPUT", false
		w.step("routing", "", fmt.Sprintf("%s is a local address: delivered on the node (filter INPUT)", f.st.dst), false)
	default:
		w.step("routing", "", fmt.Sprintf("%s is not local: forwarded (filter FORWARD, then nat POSTROUTING)", f.st.dst), false)
	}
	flows, err := w.builtin("filter", filterChain, f)
	if err != nil {
		return nil, err
	}
	var out []flow
	for _, g := range flows {
		if g.verdict == "DROP" || g.verdict == "REJECT" || !post {
			out = append(out, g)
			continue
		}
		g.verdict = ""
		h, err := w.builtin("nat", "POSTROUTING", g)
		if err != nil {
			return nil, err
		}
		out = append(out, h...)
	}
	return out, nil
}

// summarize turns the final branches into the verdict and choices.
func (w *walker) summarize(flows []flow) {
	r := w.res
	var rejected, dropped bool
	for _, f := range flows {
		switch f.verdict {
		case "REJECT":
			rejected = true
			continue
		case "DROP":
			dropped = true
			continue
		}
		if f.masq {
			r.Masquerade = true
		}
		if !f.to.IsValid() {
			continue
		}
		if f.redirect {
			r.Verdict = trace.Proxied
		}
		merged := false
		for i := range r.Choices {
			if r.Choices[i].Endpoint == f.to && r.Choices[i].Via == f.via {
				r.Choices[i].Probability += f.weight
				merged = true
			}
		}
		if !merged {
			r.Choices = append(r.Choices, trace.Choice{Endpoint: f.to, Probability: f.weight, Via: f.via})
		}
	}
	switch {
	case len(r.Choices) > 0:
		if r.Verdict == "" {
			r.Verdict = trace.Forwarded
		}
	case rejected:
		r.Verdict = trace.Rejected
	case dropped:
		r.Verdict = trace.Dropped
	default:
		r.Verdict = trace.Untouched
	}
}
