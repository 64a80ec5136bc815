package iptables

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// builtinTargets are the targets that are not chains.
var builtinTargets = map[string]bool{
	"ACCEPT": true, "DROP": true, "RETURN": true, "REJECT": true, "DNAT": true, "SNAT": true,
	"MASQUERADE": true, "MARK": true, "REDIRECT": true, "LOG": true, "CONNMARK": true,
	"NOTRACK": true, "CT": true, "NFLOG": true,
}

// packetState is what the rules can see of a packet, and what they change.
type packetState struct {
	src, dst     netip.Addr
	sport, dport int
	proto        string
	mark         uint32
	dnat         bool // ct state DNAT
	// srcLocal/dstLocal are --src-type/--dst-type LOCAL, from NodeInfo.
	srcLocal, dstLocal func(netip.Addr) bool
}

// parsedRule is a rule split into its matches and its target.
type parsedRule struct {
	matches []match
	target  string
	// targetArgs are the options after the target ("--to-destination", ...).
	targetArgs map[string]string
	goTo       bool
	// probability is -m statistic --probability (1 when absent).
	probability float64
	// recent is set for -m recent rules: "--rcheck" or "--set" and the list name.
	recentOp, recentName, recentSeconds string
	comment                             string
}

// match is one condition; unsupported ones are kept for the note.
type match struct {
	desc string
	eval func(*packetState) bool
}

func parseRule(args []string) (*parsedRule, error) {
	r := &parsedRule{probability: 1, targetArgs: map[string]string{}}
	negate := false
	module := ""
	next := func(i *int) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("%s needs a value", args[*i])
		}
		*i++
		return args[*i], nil
	}
	add := func(desc string, eval func(*packetState) bool) {
		neg := negate
		if neg {
			desc = "! " + desc
		}
		r.matches = append(r.matches, match{desc: desc, eval: func(p *packetState) bool { return eval(p) != neg }})
		negate = false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if r.target != "" {
			// Target options: "--to-destination X", "--or-mark X", "--random-fully".
			if strings.HasPrefix(a, "--") {
				v := ""
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
					v = args[i+1]
					i++
				}
				r.targetArgs[a] = v
			}
			continue
		}
		switch a {
		case "!":
			negate = true
		case "-m", "--match":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			module = v
		case "-p", "--protocol":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			add("-p "+v, func(p *packetState) bool { return p.proto == v })
		case "-s", "--source", "--src", "-d", "--destination", "--dst":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			pfx, err := parsePrefix(v)
			if err != nil {
				return nil, err
			}
			if a == "-s" || a == "--source" || a == "--src" {
				add("-s "+v, func(p *packetState) bool { return pfx.Contains(p.src) })
			} else {
				add("-d "+v, func(p *packetState) bool { return pfx.Contains(p.dst) })
			}
		case "--dport", "--destination-port", "--sport", "--source-port", "--dports", "--sports":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			ports, err := parsePorts(v)
			if err != nil {
				return nil, err
			}
			dst := strings.HasPrefix(a, "--d")
			add(a+" "+v, func(p *packetState) bool {
				port := p.sport
				if dst {
					port = p.dport
				}
				return ports(port)
			})
		case "--dst-type", "--src-type":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			src := a == "--src-type"
			add(a+" "+v, func(p *packetState) bool {
				if v != "LOCAL" {
					return false
				}
				if src {
					return p.srcLocal(p.src)
				}
				return p.dstLocal(p.dst)
			})
		case "--comment":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			// Unquoted words that follow belong to the comment too (iptables-save quotes
			// comments with spaces, but hand-written or faked dumps may not).
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && args[i+1] != "!" {
				i++
				v += " " + args[i]
			}
			r.comment = v
		case "--mode":
			if _, err := next(&i); err != nil {
				return nil, err
			}
		case "--probability":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("bad probability %q", v)
			}
			r.probability = f
		case "--mark":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			val, mask, err := parseMark(v)
			if err != nil {
				return nil, err
			}
			add("--mark "+v, func(p *packetState) bool { return p.mark&mask == val })
		case "--ctstate", "--state":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			states := strings.Split(v, ",")
			add("--ctstate "+v, func(p *packetState) bool {
				for _, s := range states {
					// A first packet is NEW, and DNAT once a DNAT rule rewrote it.
					if s == "NEW" || (s == "DNAT" && p.dnat) {
						return true
					}
				}
				return false
			})
		case "--name":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			r.recentName = v
		case "--rcheck", "--set", "--update":
			r.recentOp = a
		case "--seconds":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			r.recentSeconds = v
		case "--reap", "--rsource", "--rdest", "--rttl", "--random-fully":
		case "--mask", "--hitcount":
			// -m recent options iptables-save adds ("--mask 255.255.255.255 --rsource").
			if _, err := next(&i); err != nil {
				return nil, err
			}
		case "--nfacct-name":
			// Accounting only.
			if _, err := next(&i); err != nil {
				return nil, err
			}
		case "-i", "--in-interface", "-o", "--out-interface":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			// The tracer does not know interfaces; assume the packet did not come in or
			// go out on the one named (true for pod and outside traffic except "lo").
			add(a+" "+v, func(*packetState) bool { return false })
		case "-j", "--jump", "-g", "--goto":
			v, err := next(&i)
			if err != nil {
				return nil, err
			}
			r.target = v
			r.goTo = a == "-g" || a == "--goto"
		default:
			if strings.HasPrefix(a, "-") {
				// An option of a module the tracer does not evaluate; skip its value and
				// assume the rule does not match, saying so.
				desc := a
				if module != "" {
					desc = "-m " + module + " " + a
				}
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					desc += " " + args[i+1]
					i++
				}
				add(desc+" (not understood by the tracer: assumed false)", func(*packetState) bool { return false })
			}
		}
	}
	return r, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad address %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parsePorts handles "80", "1000:2000" and multiport lists "80,443".
func parsePorts(s string) (func(int) bool, error) {
	type span struct{ lo, hi int }
	var spans []span
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		l, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad port %q", s)
		}
		h := l
		if isRange {
			if h, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("bad port %q", s)
			}
		}
		spans = append(spans, span{l, h})
	}
	return func(p int) bool {
		for _, sp := range spans {
			if p >= sp.lo && p <= sp.hi {
				return true
			}
		}
		return false
	}, nil
}

// parseMark reads "0x4000/0x4000" or "0x4000" (mask all ones).
func parseMark(s string) (val, mask uint32, err error) {
	v, m, hasMask := strings.Cut(s, "/")
	x, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("bad mark %q", s)
	}
	mask = 0xffffffff
	if hasMask {
		y, err := strconv.ParseUint(m, 0, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("bad mark %q", s)
		}
		mask = uint32(y)
	}
	return uint32(x) & mask, mask, nil
}

// rawMark reads "value[/mask]" without masking the value (MARK target arguments).
func rawMark(s string) (val, mask uint32) {
	v, m, hasMask := strings.Cut(s, "/")
	x, _ := strconv.ParseUint(v, 0, 32)
	mask = 0xffffffff
	if hasMask {
		y, _ := strconv.ParseUint(m, 0, 32)
		mask = uint32(y)
	}
	return uint32(x), mask
}

// applyMark is the MARK target. iptables-save shows --or-mark X as --set-xmark X/X and
// --xor-mark X as --set-xmark X/0x0.
func applyMark(mark uint32, args map[string]string) uint32 {
	if v, ok := args["--or-mark"]; ok {
		x, _ := rawMark(v)
		return mark | x
	}
	if v, ok := args["--xor-mark"]; ok {
		x, _ := rawMark(v)
		return mark ^ x
	}
	if v, ok := args["--and-mark"]; ok {
		x, _ := rawMark(v)
		return mark & x
	}
	if v, ok := args["--set-xmark"]; ok {
		x, m := rawMark(v)
		return (mark &^ m) ^ x
	}
	if v, ok := args["--set-mark"]; ok {
		x, m := rawMark(v)
		return (mark &^ m) | x
	}
	return mark
}

// MatchFirstPacket evaluates the matches of a rule (Rule.Args) against the first packet of
// a flow: no mark set yet and not DNATed. local tells which addresses are the node's own
// (-m addrtype --src-type/--dst-type LOCAL). It returns whether every match holds, the
// rule's -j/-g target ("" when none) and the target's options (e.g. "--to-ports"). The
// -m statistic and -m recent options are not evaluated here; matches the tracer does not
// understand are taken as false. Other modes' tracers use it for rules in this format.
func MatchFirstPacket(args []string, src, dst netip.Addr, sport, dport int, proto string, local func(netip.Addr) bool) (ok bool, target string, targetArgs map[string]string, err error) {
	r, err := parseRule(args)
	if err != nil {
		return false, "", nil, err
	}
	p := &packetState{src: src, dst: dst, sport: sport, dport: dport, proto: proto, srcLocal: local, dstLocal: local}
	for _, m := range r.matches {
		if !m.eval(p) {
			return false, r.target, r.targetArgs, nil
		}
	}
	return true, r.target, r.targetArgs, nil
}
