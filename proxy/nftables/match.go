package nftables

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/svclab/svclab/proxy/trace"
)

// selector reads one packet field at toks ("ip daddr", "meta l4proto", "th dport",
// "tcp dport", "fib daddr type", "ct state", "meta mark"): its display name, its value
// for the packet, and how many tokens it used.
func (w *walk) selector(toks []string) (name, value string, n int, ok bool) {
	if len(toks) < 2 {
		return "", "", 0, false
	}
	switch toks[0] + " " + toks[1] {
	case "ip saddr":
		return "ip saddr", w.src.String(), 2, true
	case "ip daddr":
		return "ip daddr", w.dst.String(), 2, true
	case "meta l4proto":
		return "meta l4proto", w.pkt.Protocol, 2, true
	case "th dport":
		return "th dport", strconv.Itoa(w.dport), 2, true
	case "tcp dport", "udp dport", "sctp dport":
		v := strconv.Itoa(w.dport)
		if w.pkt.Protocol != toks[0] {
			v = "" // wrong protocol: never equal
		}
		return toks[0] + " dport", v, 2, true
	case "ct state":
		return "ct state", "new", 2, true
	case "meta mark":
		return "meta mark", strconv.FormatUint(w.mark, 10), 2, true
	case "fib daddr", "fib saddr":
		if len(toks) < 3 || toks[2] != "type" {
			return "", "", 0, false
		}
		ip := w.dst
		if toks[1] == "saddr" {
			ip = w.src
		}
		v := "unicast"
		if w.node.isLocal(ip) {
			v = "local"
		}
		return "fib " + toks[1] + " type", v, 3, true
	}
	return "", "", 0, false
}

// mapLookup is a "KEY vmap @map" expression to evaluate.
type mapLookup struct {
	key  []string
	desc string
	name string
}

// match evaluates one match expression at toks. It returns the tokens used, whether it
// matched, a description for the step's note, or a vmap lookup to perform instead.
func (w *walk) match(toks []string) (int, bool, string, *mapLookup, error) {
	name, value, n, ok := w.selector(toks)
	if !ok {
		return 0, false, "", nil, fmt.Errorf("unsupported expression at %q", strings.Join(toks, " "))
	}
	// Concatenation: "a . b . c vmap @m" (or a set lookup "a . b @s").
	key, names := []string{value}, []string{name}
	for n < len(toks) && toks[n] == "." {
		nm, v, m, ok := w.selector(toks[n+1:])
		if !ok {
			return 0, false, "", nil, fmt.Errorf("unsupported concatenation at %q", strings.Join(toks[n:], " "))
		}
		key, names = append(key, v), append(names, nm)
		n += 1 + m
	}
	if n < len(toks) && toks[n] == "vmap" && n+1 < len(toks) {
		return 0, false, "", &mapLookup{key: key, desc: strings.Join(names, " . "), name: strings.TrimPrefix(toks[n+1], "@")}, nil
	}
	if name == "meta mark" && n+3 < len(toks) && toks[n] == "&" && toks[n+2] == "==" {
		m, _ := strconv.ParseUint(toks[n+1], 0, 64)
		want, _ := strconv.ParseUint(toks[n+3], 0, 64)
		return n + 4, w.mark&m == want, fmt.Sprintf("mark & %#x is %#x", m, w.mark&m), nil, nil
	}
	negate := false
	if n < len(toks) && (toks[n] == "!=" || toks[n] == "==") {
		negate = toks[n] == "!="
		n++
	}
	if n >= len(toks) {
		return 0, false, "", nil, fmt.Errorf("%s without a value", name)
	}
	rhs := toks[n]
	n++
	var hit bool
	switch {
	case strings.HasPrefix(rhs, "@"):
		set := strings.TrimPrefix(rhs, "@")
		for _, e := range w.rs.sets[set] {
			if keyMatches(e.key, key) {
				hit = true
				break
			}
		}
		if strings.HasPrefix(set, servicePortEndpointAffinityNamePrefix) {
			w.affinity = "ClientIP: a client listed in an affinity-* set (it made a connection within the timeout) goes to the same endpoint again"
		}
	case strings.HasPrefix(rhs, "{"):
		for _, v := range strings.Split(strings.Trim(rhs, "{} "), ",") {
			if valueMatches(strings.TrimSpace(v), key[0]) {
				hit = true
			}
		}
	default:
		hit = valueMatches(rhs, key[0])
	}
	if negate {
		hit = !hit
	}
	op := ""
	if negate {
		op = "!= "
	}
	if op == "" && rhs == key[0] {
		return n, hit, name + " " + rhs, nil, nil
	}
	return n, hit, fmt.Sprintf("%s %s (%s %s%s)", name, key[0], name, op, rhs), nil, nil
}

// valueMatches compares a rule or element value with a packet value: addresses against
// addresses or prefixes, everything else as text ("ct state new" against "established,new").
func valueMatches(want, got string) bool {
	if p, err := netip.ParsePrefix(want); err == nil {
		a, err := netip.ParseAddr(got)
		return err == nil && p.Contains(a)
	}
	if strings.Contains(want, ",") {
		for _, w := range strings.Split(want, ",") {
			if w == got {
				return true
			}
		}
		return false
	}
	return want == got
}

func keyMatches(elem, key []string) bool {
	if len(elem) != len(key) {
		return false
	}
	for i := range elem {
		if !valueMatches(elem[i], key[i]) {
			return false
		}
	}
	return true
}

// vmapLookup finds the packet's key in a verdict map and applies the verdict.
func (w *walk) vmapLookup(chain, rule, note string, matched []string, l *mapLookup) (chainResult, target, error) {
	for _, e := range w.rs.sets[l.name] {
		if !keyMatches(e.key, l.key) {
			continue
		}
		what := fmt.Sprintf("%s %s found in @%s", l.desc, strings.Join(l.key, " . "), l.name)
		if e.comment != "" {
			what += " (" + e.comment + ")"
		}
		w.step(chain, rule, joinNote(note, matched, what+": "+e.verdict))
		return w.applyVerdict(e.verdict, rule)
	}
	return fellThrough, target{}, nil
}

// applyVerdict applies a map element's verdict.
func (w *walk) applyVerdict(v, rule string) (chainResult, target, error) {
	f := strings.Fields(v)
	switch {
	case len(f) == 2 && (f[0] == "goto" || f[0] == "jump"):
		return fellThrough, target{chain: f[1], isGoto: f[0] == "goto"}, nil
	case len(f) == 1 && f[0] == "drop":
		w.verdict, w.done = trace.Dropped, true
		return stopped, target{}, nil
	case len(f) == 1 && f[0] == "accept":
		return accepted, target{}, nil
	case len(f) == 1 && f[0] == "return":
		return returned, target{}, nil
	}
	return stopped, target{}, fmt.Errorf("trace: %q: unsupported verdict %q", rule, v)
}

// numgen handles "numgen random mod N vmap { 0 : goto a, 1 : goto b }": each branch has
// probability 1/N; the walk takes the branch its path names.
func (w *walk) numgen(chain, rule string, toks []string, note string, matched []string) (chainResult, target, error) {
	if len(toks) < 6 || toks[1] != "random" || toks[2] != "mod" || toks[4] != "vmap" {
		return stopped, target{}, fmt.Errorf("trace: %q: unsupported numgen expression", rule)
	}
	mod, err := strconv.Atoi(toks[3])
	if err != nil || mod <= 0 {
		return stopped, target{}, fmt.Errorf("trace: %q: bad modulus", rule)
	}
	branches := map[int]string{}
	for _, e := range parseElements(strings.Trim(toks[5], "{} ")) {
		if len(e.key) == 1 {
			if i, err := strconv.Atoi(e.key[0]); err == nil {
				branches[i] = e.verdict
			}
		}
	}
	d := len(w.decisions)
	chosen := 0
	if d < len(w.path) {
		chosen = w.path[d]
	}
	w.decisions = append(w.decisions, decision{chosen: chosen, n: mod})
	w.prob /= float64(mod)
	v, ok := branches[chosen]
	w.step(chain, rule, joinNote(note, matched, fmt.Sprintf("random choice %d of %d (p=1/%d each): %s", chosen, mod, mod, v)))
	if !ok {
		// A value with no element: nft falls through the vmap.
		return fellThrough, target{}, nil
	}
	return w.applyVerdict(v, rule)
}
