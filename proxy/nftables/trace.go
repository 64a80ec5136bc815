package nftables

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
	// Addrs are the node's local addresses ("fib ... type local"); loopback is always
	// local.
	Addrs []netip.Addr
}

func (n NodeInfo) isLocal(ip netip.Addr) bool {
	return ip.IsLoopback() || slices.Contains(n.Addrs, ip)
}

// maxRuns bounds the walks of one trace (one per combination of random choices).
const maxRuns = 4096

// Trace follows pkt through ruleset, the output of `nft list table ip kube-proxy`, on a
// node with the given addresses. Every branch of a `numgen random` dispatch is walked;
// the result lists each endpoint with its probability.
func Trace(ruleset string, pkt trace.Packet, node NodeInfo) (*trace.Result, error) {
	rs, err := parseRuleset(ruleset)
	if err != nil {
		return nil, fmt.Errorf("parse nft ruleset: %w", err)
	}
	if pkt.Protocol == "" {
		pkt.Protocol = "tcp"
	}
	pkt.Protocol = strings.ToLower(pkt.Protocol)
	var runs []*walk
	var path []int
	for len(runs) < maxRuns {
		w := &walk{rs: rs, node: node, pkt: pkt, src: pkt.Src, dst: pkt.Dst, dport: pkt.DstPort, path: path, prob: 1}
		if err := w.run(); err != nil {
			return nil, err
		}
		runs = append(runs, w)
		// Next combination: advance the last decision that has options left.
		i := len(w.decisions) - 1
		for i >= 0 && w.decisions[i].chosen == w.decisions[i].n-1 {
			i--
		}
		if i < 0 {
			break
		}
		path = make([]int, 0, i+1)
		for _, d := range w.decisions[:i] {
			path = append(path, d.chosen)
		}
		path = append(path, w.decisions[i].chosen+1)
	}
	return merge(pkt, runs), nil
}

// merge turns the walks into one Result: the steps all walks share, then each branch.
func merge(pkt trace.Packet, runs []*walk) *trace.Result {
	res := &trace.Result{Packet: pkt, Verdict: runs[0].verdict}
	common := len(runs[0].steps)
	for _, w := range runs[1:] {
		n := 0
		for n < common && n < len(w.steps) && w.steps[n] == runs[0].steps[n] {
			n++
		}
		common = n
	}
	res.Steps = append(res.Steps, runs[0].steps[:common]...)
	for i, w := range runs {
		if len(runs) > 1 {
			for _, s := range w.steps[common:] {
				s.Note = strings.TrimSpace(fmt.Sprintf("[branch %d of %d, p=%.4f] %s", i+1, len(runs), w.prob, s.Note))
				res.Steps = append(res.Steps, s)
			}
		}
		if w.verdict == trace.Forwarded {
			res.Verdict = trace.Forwarded
			found := false
			for j := range res.Choices {
				if res.Choices[j].Endpoint == w.dnat && res.Choices[j].Via == w.via {
					res.Choices[j].Probability += w.prob
					found = true
				}
			}
			if !found {
				res.Choices = append(res.Choices, trace.Choice{Endpoint: w.dnat, Probability: w.prob, Via: w.via})
			}
		}
		res.Masquerade = res.Masquerade || w.masquerade
		if w.affinity != "" {
			res.Affinity = w.affinity
		}
	}
	return res
}

type decision struct{ chosen, n int }

// walk is one pass of the packet through the hooks, with one choice per random dispatch.
type walk struct {
	rs   *liveRuleset
	node NodeInfo
	pkt  trace.Packet

	src, dst netip.Addr
	dport    int
	mark     uint64

	path      []int
	decisions []decision
	prob      float64

	steps      []trace.Step
	verdict    trace.Verdict
	dnat       netip.AddrPort
	via        string
	masquerade bool
	affinity   string
	done       bool // dropped or rejected
	calls      int
}

func (w *walk) step(where, rule, note string) {
	w.steps = append(w.steps, trace.Step{Where: where, Rule: rule, Note: note})
}

// run walks the hooks in the kernel's order for the packet's origin.
func (w *walk) run() error {
	w.verdict = trace.Untouched
	var hooks []string
	if w.pkt.Origin == trace.FromNode {
		hooks = []string{"output", "postrouting"}
	} else {
		hooks = []string{"prerouting"}
	}
	for i := 0; i < len(hooks) && !w.done; i++ {
		for _, c := range w.rs.baseChainsFor(hooks[i]) {
			if w.done {
				break
			}
			if err := w.runBase(c); err != nil {
				return err
			}
		}
		// Routing after prerouting (and, for the node's own packets, after
		// postrouting over lo): local destinations go to input, others are forwarded.
		if i == len(hooks)-1 && !w.done {
			switch {
			case hooks[i] == "prerouting" && w.node.isLocal(w.dst):
				hooks = append(hooks, "input")
			case hooks[i] == "prerouting":
				hooks = append(hooks, "forward", "postrouting")
			case hooks[i] == "postrouting" && w.pkt.Origin == trace.FromNode && w.node.isLocal(w.dst):
				hooks = append(hooks, "input")
			}
		}
	}
	if !w.done && w.dnat.IsValid() {
		w.verdict = trace.Forwarded
	}
	return nil
}

// chainResult is how a chain ended.
type chainResult int

const (
	fellThrough chainResult = iota // end of chain or "return"
	accepted                       // accept, dnat, masquerade: this base chain is done
	stopped                        // drop or reject: the packet is gone
	returned                       // "return": back to the calling chain
)

// runBase runs one base chain (falling off its end is its policy, accept).
func (w *walk) runBase(c *liveChain) error {
	_, err := w.runChain(c.name)
	return err
}

func (w *walk) runChain(name string) (chainResult, error) {
	w.calls++
	if w.calls > 1000 {
		return stopped, fmt.Errorf("trace: chain loop at %q", name)
	}
	c := w.rs.chains[name]
	if c == nil {
		return stopped, fmt.Errorf("trace: jump to undefined chain %q", name)
	}
	for _, rule := range c.rules {
		res, next, err := w.evalRule(c.name, rule)
		if err != nil {
			return stopped, err
		}
		switch {
		case res == returned:
			return fellThrough, nil
		case res == stopped || res == accepted:
			return res, nil
		case next.chain == "":
			continue
		case next.isGoto:
			return w.runChain(next.chain)
		default:
			r, err := w.runChain(next.chain)
			if err != nil || r != fellThrough {
				return r, err
			}
		}
	}
	return fellThrough, nil
}

// target is a jump or goto requested by a rule.
type target struct {
	chain  string
	isGoto bool
}

// evalRule evaluates one rule: its matches left to right, then its statements.
func (w *walk) evalRule(chain, rule string) (chainResult, target, error) {
	toks := tokenize(rule)
	note := ""
	if i := slices.Index(toks, "comment"); i >= 0 && i+1 < len(toks) {
		note = strings.Trim(toks[i+1], `"`)
		toks = toks[:i]
	}
	matched := []string{}
	for i := 0; i < len(toks); {
		// Statements.
		switch toks[i] {
		case "jump", "goto":
			if i+1 >= len(toks) {
				return stopped, target{}, fmt.Errorf("trace: %q: %s without a chain", rule, toks[i])
			}
			w.step(chain, rule, joinNote(note, matched, toks[i]+" "+toks[i+1]))
			return fellThrough, target{chain: toks[i+1], isGoto: toks[i] == "goto"}, nil
		case "return":
			w.step(chain, rule, joinNote(note, matched, "return to the calling chain"))
			return returned, target{}, nil
		case "accept":
			w.step(chain, rule, joinNote(note, matched, "accepted"))
			return accepted, target{}, nil
		case "drop":
			w.step(chain, rule, joinNote(note, matched, "dropped"))
			w.verdict, w.done = trace.Dropped, true
			return stopped, target{}, nil
		case "reject":
			w.step(chain, rule, joinNote(note, matched, "rejected (ICMP port unreachable / TCP reset)"))
			w.verdict, w.done = trace.Rejected, true
			return stopped, target{}, nil
		case "masquerade":
			w.step(chain, rule, joinNote(note, matched, "masqueraded: source becomes the node's address on the way out"))
			w.masquerade = true
			return accepted, target{}, nil
		case "dnat":
			if i+2 >= len(toks) {
				return stopped, target{}, fmt.Errorf("trace: %q: dnat without an address", rule)
			}
			ap, err := netip.ParseAddrPort(toks[i+2])
			if err != nil {
				return stopped, target{}, fmt.Errorf("trace: %q: %w", rule, err)
			}
			w.step(chain, rule, joinNote(note, matched, "DNAT to "+ap.String()))
			w.dnat, w.via, w.dst, w.dport = ap, chain, ap.Addr(), int(ap.Port())
			return accepted, target{}, nil
		case "update":
			w.step(chain, rule, joinNote(note, matched, "remembers the client in "+strings.TrimPrefix(toks[i+1], "@")+" (ClientIP affinity)"))
			return fellThrough, target{}, nil
		case "counter":
			i++
			if i+3 < len(toks) && toks[i] == "packets" {
				i += 4
			}
			continue
		case "numgen":
			return w.numgen(chain, rule, toks[i:], note, matched)
		}
		if toks[i] == "meta" && i+2 < len(toks) && toks[i+1] == "mark" && toks[i+2] == "set" {
			// meta mark set meta mark | M  /  ^ M
			if i+6 < len(toks) {
				m, _ := strconv.ParseUint(toks[i+6], 0, 64)
				if toks[i+5] == "|" {
					w.mark |= m
					w.step(chain, rule, joinNote(note, matched, fmt.Sprintf("marks the packet for masquerade (mark %#x)", m)))
				} else {
					w.mark ^= m
				}
			}
			return fellThrough, target{}, nil
		}
		// Matches.
		n, ok, desc, lookup, err := w.match(toks[i:])
		if err != nil {
			return stopped, target{}, fmt.Errorf("trace: %q: %w", rule, err)
		}
		if lookup != nil {
			return w.vmapLookup(chain, rule, note, matched, lookup)
		}
		if !ok {
			return fellThrough, target{}, nil
		}
		if desc != "" {
			matched = append(matched, desc)
		}
		i += n
	}
	return fellThrough, target{}, nil
}

func joinNote(comment string, matched []string, action string) string {
	parts := append([]string{}, matched...)
	parts = append(parts, action)
	s := strings.Join(parts, "; ")
	if comment != "" {
		s = comment + ": " + s
	}
	return s
}
