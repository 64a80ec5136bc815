package userspace

import (
	"net/netip"
	"strconv"
	"strings"
)

// flow is the packet as the rules see it at one point of the walk.
type flow struct {
	src      netip.Addr
	dst      netip.Addr
	dstPort  int
	protocol string
	fromNode bool
	local    func(netip.Addr) bool
}

// action is what a matching rule does: its -j target and the target's options.
type action struct {
	target string
	opts   map[string]string
}

// matchRule evaluates a saved rule against f. It understands the options this mode's
// rules use; an option it does not know makes the rule not match, with a reason.
func matchRule(args []string, f flow) (ok bool, act action, why string) {
	neg := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		if a == "!" {
			neg = true
			continue
		}
		res := true
		switch a {
		case "-m", "--match":
			val()
			continue
		case "--comment":
			val()
			continue
		case "-d", "--destination":
			res = inPrefix(val(), f.dst)
		case "-s", "--source":
			res = inPrefix(val(), f.src)
		case "-p", "--protocol":
			res = strings.EqualFold(val(), f.protocol)
		case "--dport", "--destination-port":
			res = inPortRange(val(), f.dstPort)
		case "--dst-type":
			res = val() == "LOCAL" && f.local(f.dst)
		case "--physdev-is-in":
			// Assumes the packet was not bridged in (no br_netfilter on the pod bridge).
			res = false
		case "--ctstate", "--state":
			// The first packet of a flow is NEW.
			res = strings.Contains(val(), "NEW")
		case "-j", "--jump", "-g", "--goto":
			act = action{target: val(), opts: map[string]string{}}
			for i+1 < len(args) {
				i++
				k := args[i]
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
					i++
					act.opts[k] = args[i]
				} else {
					act.opts[k] = ""
				}
			}
			return true, act, ""
		default:
			if !strings.HasPrefix(a, "-") {
				// A stray word, e.g. of an unquoted comment in a fake's save output.
				continue
			}
			return false, action{}, "the tracer does not understand " + a
		}
		if res == neg {
			return false, action{}, ""
		}
		neg = false
	}
	return true, act, ""
}

func inPrefix(s string, ip netip.Addr) bool {
	if !strings.Contains(s, "/") {
		s += "/32"
	}
	p, err := netip.ParsePrefix(s)
	return err == nil && ip.IsValid() && p.Contains(ip)
}

func inPortRange(s string, port int) bool {
	lo, hi, found := strings.Cut(s, ":")
	l, err := strconv.Atoi(lo)
	if err != nil {
		return false
	}
	h := l
	if found {
		if h, err = strconv.Atoi(hi); err != nil {
			return false
		}
	}
	return port >= l && port <= h
}
