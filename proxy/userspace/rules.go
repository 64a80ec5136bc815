package userspace

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/svclab/svclab/proxy"
)

// The chains of upstream's userspace mode, plus svclab's reject chain.
const (
	// ContainerPortalChain (nat, from PREROUTING) redirects traffic arriving at the node
	// for Service addresses to the proxy ports.
	ContainerPortalChain = "KUBE-PORTALS-CONTAINER"
	// HostPortalChain (nat, from OUTPUT) does the same for the node's own traffic.
	HostPortalChain = "KUBE-PORTALS-HOST"
	// ContainerNodePortChain (nat, from PREROUTING for local addresses) redirects
	// NodePort traffic arriving at the node to the proxy ports.
	ContainerNodePortChain = "KUBE-NODEPORT-CONTAINER"
	// HostNodePortChain (nat, from OUTPUT for local addresses) does the same for the
	// node's own traffic to its NodePorts.
	HostNodePortChain = "KUBE-NODEPORT-HOST"
	// NonLocalNodePortChain (filter, from INPUT) accepts NodePort traffic to the proxy
	// ports despite default-deny firewalls.
	NonLocalNodePortChain = "KUBE-NODEPORT-NON-LOCAL"
	// RejectChain (filter, from INPUT) rejects new connections to the proxy ports of
	// Service ports without endpoints, so clients are refused at once. Upstream's
	// userspace mode accepted and closed them instead.
	RejectChain = "KUBE-USERSPACE-REJECT"
)

// Comments on the jump rules, as upstream wrote them.
const (
	portalJumpComment   = "handle ClusterIPs; NOTE: this must be before the NodePort rules"
	nodePortJumpComment = "handle service NodePorts; NOTE: this must be the last rule in the chain"
	nonLocalJumpComment = "Ensure that non-local NodePort traffic can flow"
	rejectJumpComment   = "userspace proxy ports of services without endpoints"
)

// natChains and filterChains are the chains this mode owns, in rendering order.
var (
	natChains    = []string{ContainerPortalChain, HostPortalChain, ContainerNodePortChain, HostNodePortChain}
	filterChains = []string{NonLocalNodePortChain, RejectChain}
)

// jumpRule is a rule in a built-in chain that leads to one of this mode's chains.
type jumpRule struct {
	table, chain string
	args         []string
}

// jumpRules returns the jump rules in the order to ensure them: ipt.EnsureRule inserts
// at the top of the chain, so the NodePort jumps go in first and end up below the portal
// jumps (upstream: portals first, NodePorts last), and the reject jump ends up above the
// NodePort accept.
func jumpRules() []jumpRule {
	comment := func(c string) []string { return []string{"-m", "comment", "--comment", c} }
	local := []string{"-m", "addrtype", "--dst-type", "LOCAL"}
	join := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	return []jumpRule{
		{"nat", "PREROUTING", join(local, comment(nodePortJumpComment), []string{"-j", ContainerNodePortChain})},
		{"nat", "OUTPUT", join(local, comment(nodePortJumpComment), []string{"-j", HostNodePortChain})},
		{"nat", "PREROUTING", join(comment(portalJumpComment), []string{"-j", ContainerPortalChain})},
		{"nat", "OUTPUT", join(comment(portalJumpComment), []string{"-j", HostPortalChain})},
		{"filter", "INPUT", join(comment(nonLocalJumpComment), []string{"-j", NonLocalNodePortChain})},
		{"filter", "INPUT", join([]string{"-m", "conntrack", "--ctstate", "NEW"}, comment(rejectJumpComment), []string{"-j", RejectChain})},
	}
}

// portalTarget is where portal rules send packets: the listeners' address (or, when they
// listen on every address, REDIRECT for traffic arriving from the network and the node's
// primary IP for the node's own traffic, which REDIRECT would send to 127.0.0.1).
type portalTarget struct {
	listenIP netip.Addr // unspecified: all addresses
	hostIP   netip.Addr
}

func (t portalTarget) container(proxyPort int) string {
	if !t.listenIP.IsValid() || t.listenIP.IsUnspecified() {
		return "-j REDIRECT --to-ports " + strconv.Itoa(proxyPort)
	}
	return "-j DNAT --to-destination " + netip.AddrPortFrom(t.listenIP, uint16(proxyPort)).String()
}

func (t portalTarget) host(proxyPort int) string {
	ip := t.listenIP
	if !ip.IsValid() || ip.IsUnspecified() {
		ip = t.hostIP
	}
	return "-j DNAT --to-destination " + netip.AddrPortFrom(ip, uint16(proxyPort)).String()
}

// portalRule is one rendered rule.
type portalRule struct {
	chain string
	rule  string
}

// serviceRules renders one Service port's rules in iptables-save's own order of options
// (so the rules read back identical): the ClusterIP and load-balancer portals, the
// externalIP portals (which also catch local traffic to a node-local externalIP), the
// NodePort, and a reject when there is no endpoint.
func serviceRules(sp *proxy.ServicePort, proxyPort int, hasEndpoints bool, t portalTarget) (nat, filter []portalRule) {
	proto := strings.ToLower(string(sp.Protocol))
	comment := quote(sp.Name.String())
	match := func(ip netip.Addr, port int, extra string) string {
		var b strings.Builder
		if ip.IsValid() {
			fmt.Fprintf(&b, "-d %s/32 ", ip)
		}
		fmt.Fprintf(&b, "-p %s -m comment --comment %s -m %s --dport %d", proto, comment, proto, port)
		if extra != "" {
			b.WriteString(" " + extra)
		}
		return b.String()
	}
	portal := func(ip netip.Addr) {
		nat = append(nat,
			portalRule{ContainerPortalChain, match(ip, sp.Port, "") + " " + t.container(proxyPort)},
			portalRule{HostPortalChain, match(ip, sp.Port, "") + " " + t.host(proxyPort)})
	}
	portal(sp.ClusterIP)
	for _, ip := range sp.ExternalIPs {
		// Upstream: traffic to an externalIP from outside (not bridged in), and traffic to
		// it from containers or the host when it is one of the node's addresses.
		nat = append(nat,
			portalRule{ContainerPortalChain, match(ip, sp.Port, "-m physdev ! --physdev-is-in") + " " + t.container(proxyPort)},
			portalRule{ContainerPortalChain, match(ip, sp.Port, "-m addrtype --dst-type LOCAL") + " " + t.container(proxyPort)},
			portalRule{HostPortalChain, match(ip, sp.Port, "-m addrtype --dst-type LOCAL") + " " + t.host(proxyPort)})
	}
	for _, ip := range sp.LoadBalancerVIPs {
		portal(ip)
	}
	if sp.NodePort != 0 {
		nat = append(nat,
			portalRule{ContainerNodePortChain, match(netip.Addr{}, sp.NodePort, "") + " " + t.container(proxyPort)},
			portalRule{HostNodePortChain, match(netip.Addr{}, sp.NodePort, "") + " " + t.host(proxyPort)})
		filter = append(filter, portalRule{NonLocalNodePortChain, match(netip.Addr{}, proxyPort, "-m state --state NEW -j ACCEPT")})
	}
	if !hasEndpoints {
		filter = append(filter, portalRule{RejectChain, fmt.Sprintf("-p %s -m comment --comment %s -m %s --dport %d -j REJECT --reject-with icmp-port-unreachable",
			proto, quote(sp.Name.String()+" has no endpoints"), proto, proxyPort)})
	}
	return nat, filter
}

// quote renders a comment the way iptables-save does: bare when it is only letters,
// digits, '_' and '-', otherwise in double quotes.
func quote(s string) string {
	bare := s != ""
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			bare = false
			break
		}
	}
	if bare {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// renderPayload is the iptables-restore input for all rules: both tables, every chain of
// the mode declared (so --noflush still rewrites them entirely).
func renderPayload(nat, filter []portalRule) []byte {
	var b strings.Builder
	table := func(name string, chains []string, rules []portalRule) {
		fmt.Fprintf(&b, "*%s\n", name)
		for _, c := range chains {
			fmt.Fprintf(&b, ":%s - [0:0]\n", c)
		}
		for _, c := range chains {
			for _, r := range rules {
				if r.chain == c {
					fmt.Fprintf(&b, "-A %s %s\n", c, r.rule)
				}
			}
		}
		b.WriteString("COMMIT\n")
	}
	table("filter", filterChains, filter)
	table("nat", natChains, nat)
	return []byte(b.String())
}
