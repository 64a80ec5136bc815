package userspace

import (
	"net/netip"

	"github.com/svclab/svclab/proxy/iptables"
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

// matchRule evaluates a saved rule's arguments against f with the iptables mode's matcher
// (the rules are in the same iptables-save format). A rule the matcher cannot parse does
// not match.
func matchRule(args []string, f flow) (bool, action) {
	ok, target, opts, err := iptables.MatchFirstPacket(args, f.src, f.dst, 0, f.dstPort, f.protocol, f.local)
	if err != nil || !ok {
		return false, action{}
	}
	return true, action{target: target, opts: opts}
}

// jumpTarget is the rule's -j/-g target ("" when none).
func jumpTarget(args []string) string {
	for i, a := range args {
		if (a == "-j" || a == "--jump" || a == "-g" || a == "--goto") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
