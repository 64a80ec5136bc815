package ipvs

import (
	"fmt"
	"strings"
)

// The iptables chains upstream's ipvs proxier owns.
const (
	chainServices          = "KUBE-SERVICES"
	chainPostrouting       = "KUBE-POSTROUTING"
	chainNodePort          = "KUBE-NODE-PORT"
	chainLoadBalancer      = "KUBE-LOAD-BALANCER"
	chainMarkMasq          = "KUBE-MARK-MASQ"
	chainForward           = "KUBE-FORWARD"
	chainProxyFirewall     = "KUBE-PROXY-FIREWALL"
	chainSourceRangesFW    = "KUBE-SOURCE-RANGES-FIREWALL"
	chainIPVSFilter        = "KUBE-IPVS-FILTER"
	chainIPVSOutFilter     = "KUBE-IPVS-OUT-FILTER"
	tableNAT, tableFilter  = "nat", "filter"
	commentServicePortals  = "kubernetes service portals"
	commentPostrouting     = "kubernetes postrouting rules"
	commentForward         = "kubernetes forwarding rules"
	commentHealthCheck     = "kubernetes health check rules"
	commentFirewall        = "kube-proxy firewall rules"
	commentIPVSAccessFiler = "kubernetes ipvs access filter"
)

// chains lists the chains per table in upstream's order (iptablesChains).
var chains = []struct{ table, chain string }{
	{tableNAT, chainServices},
	{tableNAT, chainPostrouting},
	{tableNAT, chainNodePort},
	{tableNAT, chainLoadBalancer},
	{tableNAT, chainMarkMasq},
	{tableFilter, chainForward},
	{tableFilter, chainNodePort},
	{tableFilter, chainProxyFirewall},
	{tableFilter, chainSourceRangesFW},
	{tableFilter, chainIPVSFilter},
	{tableFilter, chainIPVSOutFilter},
}

// jumps are the rules in built-in chains that lead to ours (iptablesJumpChain).
var jumps = []struct{ table, from, to, comment string }{
	{tableNAT, "OUTPUT", chainServices, commentServicePortals},
	{tableNAT, "PREROUTING", chainServices, commentServicePortals},
	{tableNAT, "POSTROUTING", chainPostrouting, commentPostrouting},
	{tableFilter, "FORWARD", chainForward, commentForward},
	{tableFilter, "INPUT", chainNodePort, commentHealthCheck},
	{tableFilter, "INPUT", chainProxyFirewall, commentFirewall},
	{tableFilter, "FORWARD", chainProxyFirewall, commentFirewall},
	{tableFilter, "INPUT", chainIPVSFilter, commentIPVSAccessFiler},
	{tableFilter, "OUTPUT", chainIPVSOutFilter, commentIPVSAccessFiler},
}

func jumpArgs(comment, to string) []string {
	return []string{"-m", "comment", "--comment", comment, "-j", to}
}

// setChains is upstream's ipsetWithIptablesChain: a set matched in one chain, jumping to
// another. The Local sets come before the others of their protocol.
var setChains = []struct{ set, table, from, to, match, proto string }{
	{SetLoopBack, tableNAT, chainPostrouting, "MASQUERADE", "dst,dst,src", ""},
	{SetLoadBalancer, tableNAT, chainServices, chainLoadBalancer, "dst,dst", ""},
	{SetLoadBalancerLocal, tableNAT, chainLoadBalancer, "RETURN", "dst,dst", ""},
	{SetNodePortLocalTCP, tableNAT, chainNodePort, "RETURN", "dst", "tcp"},
	{SetNodePortTCP, tableNAT, chainNodePort, chainMarkMasq, "dst", "tcp"},
	{SetNodePortLocalUDP, tableNAT, chainNodePort, "RETURN", "dst", "udp"},
	{SetNodePortUDP, tableNAT, chainNodePort, chainMarkMasq, "dst", "udp"},
	{SetLoadBalancerFW, tableFilter, chainProxyFirewall, chainSourceRangesFW, "dst,dst", ""},
	{SetLoadBalancerSrcCIDR, tableFilter, chainSourceRangesFW, "RETURN", "dst,dst,src", ""},
	{SetLoadBalancerSrcIP, tableFilter, chainSourceRangesFW, "RETURN", "dst,dst,src", ""},
}

func quoted(s string) string { return `"` + s + `"` }

// renderIPTables returns the iptables-restore payload (nat then filter) of upstream's
// writeIptablesRules for the sets in pl.
func (p *Proxier) renderIPTables(pl *plan) []byte {
	var natChains, natRules, filterChains, filterRules []string
	nat := func(args ...string) { natRules = append(natRules, strings.Join(args, " ")) }
	filter := func(args ...string) { filterRules = append(filterRules, strings.Join(args, " ")) }
	for _, c := range chains {
		line := fmt.Sprintf(":%s - [0:0]", c.chain)
		if c.table == tableNAT {
			natChains = append(natChains, line)
		} else {
			filterChains = append(filterChains, line)
		}
	}
	nonEmpty := func(set string) bool { return len(pl.sets[set]) > 0 }
	mark := p.cfg.MasqueradeMark()

	// Dismiss connects to localhost early in the service chain.
	nat("-A", chainServices, "-s", "127.0.0.0/8", "-j", "RETURN")
	for _, sc := range setChains {
		if !nonEmpty(sc.set) {
			continue
		}
		args := []string{"-A", sc.from}
		if sc.proto != "" {
			args = append(args, "-p", sc.proto)
		}
		args = append(args, "-m", "comment", "--comment", quoted(setComment(sc.set)),
			"-m", "set", "--match-set", sc.set, sc.match, "-j", sc.to)
		if sc.table == tableFilter {
			filter(args...)
		} else {
			nat(args...)
		}
	}
	if nonEmpty(SetClusterIP) {
		args := []string{"-A", chainServices, "-m", "comment", "--comment", quoted(setComment(SetClusterIP)),
			"-m", "set", "--match-set", SetClusterIP}
		switch {
		case p.cfg.MasqueradeAll:
			nat(append(args, "dst,dst", "-j", chainMarkMasq)...)
		case p.cfg.ClusterCIDR.IsValid():
			// Masquerade off-cluster traffic to a Service VIP (it may bounce off-node).
			nat(append(args, "dst,dst", "!", "-s", p.cfg.ClusterCIDR.String(), "-j", chainMarkMasq)...)
		default:
			// Without a cluster CIDR, masquerade node traffic sourced from a VIP (the
			// dummy device makes the VIP the preferred source address).
			nat(append(args, "src,dst", "-j", chainMarkMasq)...)
		}
	}
	externalIPRules := func(args []string) {
		// Traffic from off the machine, and traffic to external IPs that are local
		// addresses, stays with IPVS.
		nat(append(slicesClone(args), "-m", "physdev", "!", "--physdev-is-in", "-m", "addrtype", "!", "--src-type", "LOCAL", "-j", "ACCEPT")...)
		nat(append(slicesClone(args), "-m", "addrtype", "--dst-type", "LOCAL", "-j", "ACCEPT")...)
	}
	if nonEmpty(SetExternalIP) {
		args := []string{"-A", chainServices, "-m", "comment", "--comment", quoted(setComment(SetExternalIP)),
			"-m", "set", "--match-set", SetExternalIP, "dst,dst"}
		nat(append(slicesClone(args), "-j", chainMarkMasq)...)
		externalIPRules(args)
	}
	if nonEmpty(SetExternalIPLocal) {
		externalIPRules([]string{"-A", chainServices, "-m", "comment", "--comment", quoted(setComment(SetExternalIPLocal)),
			"-m", "set", "--match-set", SetExternalIPLocal, "dst,dst"})
	}
	nat("-A", chainServices, "-m", "addrtype", "--dst-type", "LOCAL", "-j", chainNodePort)
	nat("-A", chainLoadBalancer, "-j", chainMarkMasq)
	filter("-A", chainSourceRangesFW, "-j", "DROP")
	for _, e := range pl.lbNoNodeAccess {
		filter("-A", chainIPVSOutFilter, "-s", e[0], "-m", "ipvs", "--vaddr", e[0], "--vproto", e[1], "--vport", e[2], "-j", "DROP")
	}
	// Accept traffic to IPVS virtual servers so later rules cannot break them; these must
	// be last in KUBE-SERVICES.
	for _, set := range []string{SetClusterIP, SetLoadBalancer} {
		if nonEmpty(set) {
			nat("-A", chainServices, "-m", "set", "--match-set", set, "dst,dst", "-j", "ACCEPT")
		}
	}
	filter("-A", chainForward, "-m", "comment", "--comment", quoted(commentForward),
		"-m", "mark", "--mark", mark+"/"+mark, "-j", "ACCEPT")
	filter("-A", chainForward, "-m", "comment", "--comment", quoted("kubernetes forwarding conntrack rule"),
		"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
	filter("-A", chainNodePort, "-m", "comment", "--comment", quoted(setComment(SetHealthCheckNodePort)),
		"-m", "set", "--match-set", SetHealthCheckNodePort, "dst", "-j", "ACCEPT")
	// Refuse new connections to other ports of the VIPs (kubernetes#72236).
	for _, set := range []string{SetLoadBalancer, SetClusterIP, SetExternalIP, SetExternalIPLocal} {
		filter("-A", chainIPVSFilter, "-m", "set", "--match-set", set, "dst,dst", "-j", "RETURN")
	}
	filter("-A", chainIPVSFilter, "-m", "set", "--match-set", SetHealthCheckNodePort, "dst", "-j", "RETURN")
	filter("-A", chainIPVSFilter, "-m", "conntrack", "--ctstate", "NEW", "-m", "set", "--match-set", SetIPVSIPs, "dst", "-j", "REJECT")

	nat("-A", chainPostrouting, "-m", "mark", "!", "--mark", mark+"/"+mark, "-j", "RETURN")
	// Clear the mark so a packet that re-traverses the stack is not masqueraded twice.
	nat("-A", chainPostrouting, "-j", "MARK", "--xor-mark", mark)
	nat("-A", chainPostrouting, "-m", "comment", "--comment", quoted("kubernetes service traffic requiring SNAT"), "-j", "MASQUERADE", "--random-fully")
	nat("-A", chainMarkMasq, "-j", "MARK", "--or-mark", mark)

	var b strings.Builder
	b.WriteString("*nat\n")
	for _, l := range append(natChains, natRules...) {
		b.WriteString(l + "\n")
	}
	b.WriteString("COMMIT\n*filter\n")
	for _, l := range append(filterChains, filterRules...) {
		b.WriteString(l + "\n")
	}
	b.WriteString("COMMIT\n")
	return []byte(b.String())
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
