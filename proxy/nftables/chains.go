package nftables

import (
	"net"
	"strconv"
	"time"

	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
)

// serviceChainFlags carries writeServicePort's decisions to writeServiceChains.
type serviceChainFlags struct {
	hasInternalEndpoints, hasExternalEndpoints   bool
	usesExternalTrafficChain                     bool
	usesClusterPolicyChain, usesLocalPolicyChain bool
	usesFWChain                                  bool
	internalTrafficChain, externalPolicyChain    string
}

// writeServiceChains fills the (already added and flushed) chains of one ServicePort:
// the policy chains with their masquerade, affinity and numgen dispatch rules, the
// external and firewall chains, the affinity sets and the endpoint chains.
func (p *Proxier) writeServiceChains(tx *knftables.Transaction, svc *proxy.ServicePort, cat proxy.Categorized, names chainNames, f serviceChainFlags) {
	name := svc.Name
	protocol := protocolOf(svc.Protocol)

	if f.hasInternalEndpoints {
		switch {
		case p.cfg.MasqueradeAll:
			tx.Add(&knftables.Rule{
				Chain: f.internalTrafficChain,
				Rule:  knftables.Concat("ip", "daddr", svc.ClusterIP, protocol, "dport", svc.Port, "jump", markMasqChain),
			})
		case p.localCIDR != "":
			// Masquerade off-cluster traffic to the ClusterIP: a static route to the
			// Service range through any node works, and the reply may cross nodes.
			tx.Add(&knftables.Rule{
				Chain: f.internalTrafficChain,
				Rule:  knftables.Concat("ip", "daddr", svc.ClusterIP, protocol, "dport", svc.Port, "ip", "saddr", "!=", p.localCIDR, "jump", markMasqChain),
			})
		}
	}

	if f.usesExternalTrafficChain {
		if !svc.ExternalPolicyLocalApplies() {
			// Endpoints may be on other nodes: masquerade so replies come back here.
			tx.Add(&knftables.Rule{Chain: names.external, Rule: knftables.Concat("jump", markMasqChain)})
		} else {
			if p.localCIDR != "" {
				// Pods reaching an external address of the Service are treated as
				// if they went out to the load balancer and back: no policy.
				tx.Add(&knftables.Rule{
					Chain:   names.external,
					Rule:    knftables.Concat("ip", "saddr", p.localCIDR, "goto", names.cluster),
					Comment: knftables.PtrTo("short-circuit pod traffic"),
				})
			}
			// The node itself must be masqueraded: its source would be the VIP.
			tx.Add(&knftables.Rule{
				Chain:   names.external,
				Rule:    knftables.Concat("fib", "saddr", "type", "local", "jump", markMasqChain),
				Comment: knftables.PtrTo("masquerade local traffic"),
			})
			tx.Add(&knftables.Rule{
				Chain:   names.external,
				Rule:    knftables.Concat("fib", "saddr", "type", "local", "goto", names.cluster),
				Comment: knftables.PtrTo("short-circuit local traffic"),
			})
		}
		if f.hasExternalEndpoints {
			tx.Add(&knftables.Rule{Chain: names.external, Rule: knftables.Concat("goto", f.externalPolicyChain)})
		}
	}

	if f.usesFWChain {
		var sources []string
		allowFromNode := false
		for _, cidr := range svc.LoadBalancerSourceRanges {
			if len(sources) > 0 {
				sources = append(sources, ",")
			}
			sources = append(sources, cidr.String())
			if len(p.cfg.NodeIPs) > 0 && cidr.Contains(p.cfg.NodeIPs[0]) {
				allowFromNode = true
			}
		}
		// A VIP often is a local address too: a request from the node then loops back
		// with the VIP as its source.
		if allowFromNode {
			for _, ip := range svc.LoadBalancerVIPs {
				sources = append(sources, ",", ip.String())
			}
		}
		tx.Add(&knftables.Rule{
			Chain: names.firewall,
			Rule:  knftables.Concat("ip", "saddr", "!=", "{", sources, "}", "drop"),
		})
	}

	if svc.SessionAffinityClientIP {
		// Affinity is per client IP (any source port) per ServicePort, like iptables.
		for _, ep := range cat.AllReachable {
			tx.Add(&knftables.Set{
				Name: affinitySetName(name, ep),
				Type: "ipv4_addr",
				// "dynamic" too: some kernels add it and then reject a re-add without it.
				Flags:   []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
				Timeout: knftables.PtrTo(time.Duration(svc.StickyMaxAgeSeconds) * time.Second),
			})
		}
	}

	if f.usesClusterPolicyChain {
		p.writeServiceToEndpointRules(tx, svc, names.cluster, cat.Cluster)
	}
	if f.usesLocalPolicyChain {
		p.writeServiceToEndpointRules(tx, svc, names.local, cat.Local)
	}

	for _, ep := range cat.AllReachable {
		chain := endpointChainName(name, ep)
		// Hairpin: a pod reaching itself through the Service is masqueraded.
		tx.Add(&knftables.Rule{Chain: chain, Rule: knftables.Concat("ip", "saddr", ep.IP, "jump", markMasqChain)})
		if svc.SessionAffinityClientIP {
			tx.Add(&knftables.Rule{Chain: chain, Rule: knftables.Concat("update", "@", affinitySetName(name, ep), "{", "ip", "saddr", "}")})
		}
		tx.Add(&knftables.Rule{
			Chain: chain,
			Rule:  knftables.Concat("meta l4proto", protocol, "dnat to", net.JoinHostPort(ep.IP.String(), strconv.Itoa(ep.Port))),
		})
	}
}

// writeServiceToEndpointRules writes the affinity lookups and the numgen dispatch from a
// policy chain to its endpoints.
func (p *Proxier) writeServiceToEndpointRules(tx *knftables.Transaction, svc *proxy.ServicePort, chain string, eps []proxy.Endpoint) {
	if svc.SessionAffinityClientIP {
		for _, ep := range eps {
			tx.Add(&knftables.Rule{
				Chain: chain,
				Rule:  knftables.Concat("ip", "saddr", "@", affinitySetName(svc.Name, ep), "goto", endpointChainName(svc.Name, ep)),
			})
		}
	}
	var elements []string
	for i, ep := range eps {
		elements = append(elements, strconv.Itoa(i), ":", "goto", endpointChainName(svc.Name, ep))
		if i != len(eps)-1 {
			elements = append(elements, ",")
		}
	}
	tx.Add(&knftables.Rule{
		Chain: chain,
		Rule:  knftables.Concat("numgen random mod", len(eps), "vmap", "{", elements, "}"),
	})
}
