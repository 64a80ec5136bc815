package iptables

// jumpChain is one rule in a built-in chain that sends traffic into kube-proxy's chains
// (upstream's iptablesJumpChain). These live outside the restore payload because a restore
// of a built-in chain would replace other programs' rules in it.
type jumpChain struct {
	table, dstChain, srcChain, comment string
	extraArgs                          []string
}

// args is the rule as passed to `iptables -I srcChain`.
func (j jumpChain) args() []string {
	args := append([]string{}, j.extraArgs...)
	if j.comment != "" {
		args = append(args, "-m", "comment", "--comment", j.comment)
	}
	return append(args, "-j", j.dstChain)
}

var ctNew = []string{"-m", "conntrack", "--ctstate", "NEW"}

// jumpChains is upstream's iptablesJumpChains, in upstream's order (each is inserted at
// the top of its chain, so the last one ends up first).
var jumpChains = []jumpChain{
	{"filter", kubeExternalServicesChain, "INPUT", "kubernetes externally-visible service portals", ctNew},
	{"filter", kubeExternalServicesChain, "FORWARD", "kubernetes externally-visible service portals", ctNew},
	{"filter", kubeNodePortsChain, "INPUT", "kubernetes health check service ports", nil},
	{"filter", kubeServicesChain, "FORWARD", "kubernetes service portals", ctNew},
	{"filter", kubeServicesChain, "OUTPUT", "kubernetes service portals", ctNew},
	{"filter", kubeForwardChain, "FORWARD", "kubernetes forwarding rules", nil},
	{"filter", kubeProxyFirewallChain, "INPUT", "kubernetes load balancer firewall", ctNew},
	{"filter", kubeProxyFirewallChain, "OUTPUT", "kubernetes load balancer firewall", ctNew},
	{"filter", kubeProxyFirewallChain, "FORWARD", "kubernetes load balancer firewall", ctNew},
	{"nat", kubeServicesChain, "OUTPUT", "kubernetes service portals", nil},
	{"nat", kubeServicesChain, "PREROUTING", "kubernetes service portals", nil},
	{"nat", kubePostroutingChain, "POSTROUTING", "kubernetes postrouting rules", nil},
}
