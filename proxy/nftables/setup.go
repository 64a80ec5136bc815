package nftables

import (
	"sigs.k8s.io/knftables"
)

// baseChain is one chain hooked into netfilter; names are "${type}-${hook}".
type baseChain struct {
	name      string
	chainType knftables.BaseChainType
	hook      knftables.BaseChainHook
	priority  knftables.BaseChainPriority
}

// baseChains are upstream's, in upstream's order. The filter chains run before DNAT so
// they see the Service address (filter-output-post-dnat runs after it).
var baseChains = []baseChain{
	{filterPreroutingChain, knftables.FilterType, knftables.PreroutingHook, knftables.DNATPriority + "-10"},
	{filterInputChain, knftables.FilterType, knftables.InputHook, knftables.DNATPriority + "-10"},
	{filterForwardChain, knftables.FilterType, knftables.ForwardHook, knftables.DNATPriority + "-10"},
	{filterOutputChain, knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "-10"},
	{filterOutputPostDNATChain, knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "+10"},
	{natPreroutingChain, knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority},
	{natOutputChain, knftables.NATType, knftables.OutputHook, knftables.DNATPriority},
	{natPostroutingChain, knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority},
}

// jumpChain is a rule "extraArgs jump dst" in base chain src.
type jumpChain struct {
	dst, src, extraArgs string
}

// jumpChains are upstream's. endpoint checks are not in filter-prerouting because reject
// is only valid in input, forward and output hooks on kernels before 5.9.
var jumpChains = []jumpChain{
	{nodePortEndpointsCheckChain, filterInputChain, "ct state new"},
	{serviceEndpointsCheckChain, filterInputChain, "ct state new"},
	{serviceEndpointsCheckChain, filterForwardChain, "ct state new"},
	{serviceEndpointsCheckChain, filterOutputChain, "ct state new"},

	{firewallCheckChain, filterPreroutingChain, "ct state new"},
	{firewallCheckChain, filterOutputChain, "ct state new"},

	{servicesChain, natOutputChain, ""},
	{servicesChain, natPreroutingChain, ""},
	{masqueradingChain, natPostroutingChain, ""},

	{clusterIPsCheckChain, filterForwardChain, "ct state new"},
	{clusterIPsCheckChain, filterOutputPostDNATChain, "ct state new"},
}

// ensureChain adds and flushes chain once per transaction; with skip it only records the
// chain as in use (an unchanged Service's chains stay as they are).
func ensureChain(chain string, tx *knftables.Transaction, created map[string]bool, skip bool) {
	if created[chain] {
		return
	}
	created[chain] = true
	if skip {
		return
	}
	tx.Add(&knftables.Chain{Name: chain})
	tx.Flush(&knftables.Chain{Name: chain})
}

// setupTable writes the fixed part of the table (upstream's setupNFTables): the table,
// base chains, top-level chains and their rules, and the empty sets and maps.
func (p *Proxier) setupTable(tx *knftables.Transaction) {
	const noLocalhost = "ip daddr != 127.0.0.0/8"
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("rules for kube-proxy")})

	// Once per process, add+delete the base chains so that a table left by another
	// version with different hooks or priorities is recreated rather than rejected.
	if !p.flushed {
		for _, bc := range baseChains {
			tx.Add(&knftables.Chain{Name: bc.name})
			tx.Delete(&knftables.Chain{Name: bc.name})
		}
	}
	for _, bc := range baseChains {
		chain := &knftables.Chain{
			Name:     bc.name,
			Type:     knftables.PtrTo(bc.chainType),
			Hook:     knftables.PtrTo(bc.hook),
			Priority: knftables.PtrTo(bc.priority),
		}
		tx.Add(chain)
		tx.Flush(chain)
	}

	created := map[string]bool{}
	for _, c := range jumpChains {
		ensureChain(c.dst, tx, created, false)
		tx.Add(&knftables.Rule{Chain: c.src, Rule: knftables.Concat(c.extraArgs, "jump", c.dst)})
	}
	for _, chain := range []string{servicesChain, clusterIPsCheckChain, masqueradingChain, markMasqChain} {
		ensureChain(chain, tx, created, false)
	}

	tx.Add(&knftables.Rule{Chain: markMasqChain, Rule: knftables.Concat("mark", "set", "mark", "or", p.masqMark)})
	tx.Add(&knftables.Rule{Chain: masqueradingChain, Rule: knftables.Concat("mark", "and", p.masqMark, "==", "0", "return")})
	tx.Add(&knftables.Rule{Chain: masqueradingChain, Rule: knftables.Concat("mark", "set", "mark", "xor", p.masqMark)})
	tx.Add(&knftables.Rule{Chain: masqueradingChain, Rule: "masquerade fully-random"})

	tx.Add(&knftables.Set{Name: clusterIPsSet, Type: "ipv4_addr", Comment: knftables.PtrTo("Active ClusterIPs")})
	tx.Add(&knftables.Rule{
		Chain:   clusterIPsCheckChain,
		Rule:    knftables.Concat("ip", "daddr", "@", clusterIPsSet, "reject"),
		Comment: knftables.PtrTo("Reject traffic to invalid ports of ClusterIPs"),
	})

	// "add" then "delete" makes sure the set is gone without failing when it is absent.
	tx.Add(&knftables.Set{Name: nodePortIPsSet, Type: "ipv4_addr", Comment: knftables.PtrTo("IPs that accept NodePort traffic")})
	if p.nodePortIPs == nil {
		tx.Delete(&knftables.Set{Name: nodePortIPsSet})
	} else {
		tx.Flush(&knftables.Set{Name: nodePortIPsSet})
		for _, ip := range p.nodePortIPs {
			tx.Add(&knftables.Element{Set: nodePortIPsSet, Key: []string{ip.String()}})
		}
	}

	tx.Add(&knftables.Map{
		Name:    noEndpointServicesMap,
		Type:    "ipv4_addr . inet_proto . inet_service : verdict",
		Comment: knftables.PtrTo("vmap to drop or reject packets to services with no endpoints"),
	})
	tx.Add(&knftables.Map{
		Name:    noEndpointNodePortsMap,
		Type:    "inet_proto . inet_service : verdict",
		Comment: knftables.PtrTo("vmap to drop or reject packets to service nodeports with no endpoints"),
	})
	tx.Add(&knftables.Chain{Name: rejectChain, Comment: knftables.PtrTo("helper for @no-endpoint-services / @no-endpoint-nodeports")})
	tx.Flush(&knftables.Chain{Name: rejectChain})
	tx.Add(&knftables.Rule{Chain: rejectChain, Rule: "reject"})

	tx.Add(&knftables.Rule{
		Chain: serviceEndpointsCheckChain,
		Rule:  knftables.Concat("ip", "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", noEndpointServicesMap),
	})
	if p.nodePortIPs == nil {
		tx.Add(&knftables.Rule{
			Chain: nodePortEndpointsCheckChain,
			Rule:  knftables.Concat(noLocalhost, "meta l4proto . th dport", "vmap", "@", noEndpointNodePortsMap),
		})
	} else {
		tx.Add(&knftables.Rule{
			Chain: nodePortEndpointsCheckChain,
			Rule:  knftables.Concat("ip", "daddr", "@", nodePortIPsSet, "meta l4proto . th dport", "vmap", "@", noEndpointNodePortsMap),
		})
	}

	tx.Add(&knftables.Map{
		Name:    firewallIPsMap,
		Type:    "ipv4_addr . inet_proto . inet_service : verdict",
		Comment: knftables.PtrTo("destinations that are subject to LoadBalancerSourceRanges"),
	})
	ensureChain(firewallCheckChain, tx, created, false)
	tx.Add(&knftables.Rule{
		Chain: firewallCheckChain,
		Rule:  knftables.Concat("ip", "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", firewallIPsMap),
	})

	tx.Add(&knftables.Map{
		Name:    serviceIPsMap,
		Type:    "ipv4_addr . inet_proto . inet_service : verdict",
		Comment: knftables.PtrTo("ClusterIP, ExternalIP and LoadBalancer IP traffic"),
	})
	tx.Add(&knftables.Map{
		Name:    serviceNodePortsMap,
		Type:    "inet_proto . inet_service : verdict",
		Comment: knftables.PtrTo("NodePort traffic"),
	})
	tx.Add(&knftables.Rule{
		Chain: servicesChain,
		Rule:  knftables.Concat("ip", "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", serviceIPsMap),
	})
	if p.nodePortIPs == nil {
		tx.Add(&knftables.Rule{
			Chain: servicesChain,
			Rule:  knftables.Concat("fib daddr type local", noLocalhost, "meta l4proto . th dport", "vmap", "@", serviceNodePortsMap),
		})
	} else {
		tx.Add(&knftables.Rule{
			Chain: servicesChain,
			Rule:  knftables.Concat("ip", "daddr @nodeport-ips", "meta l4proto . th dport", "vmap", "@", serviceNodePortsMap),
		})
	}

	for _, s := range p.storages() {
		s.reset(tx)
	}
}
