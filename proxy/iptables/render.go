package iptables

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/svclab/svclab/proxy"
)

// renderer turns one State into an iptables-restore payload, following upstream's
// syncProxyRules line by line.
type renderer struct {
	cfg      proxy.Config
	mark     string
	nodeIP   netip.Addr
	detector localDetector
	// largeCluster drops per-endpoint comments (upstream's largeClusterMode).
	largeCluster bool

	filterChains, filterRules, natChains, natRules lineBuffer
	names                                          *nameCache
	// active is every per-Service nat chain that must exist after this sync, written or not.
	active sets.Set[string]

	probabilities []string

	// natTop are the spans of natRules that belong to the top-level nat chains.
	natTop []span
	// natTopDecls is the length of natChains holding the top-level declarations.
	natTopDecls int
	// prev is the last successful sync's top-level text (nil: render everything);
	// services collects this sync's per-Service lines for the next one.
	prev     *topCache
	services map[proxy.ServicePortName]*svcLines
	// cur collects the active chains of the Service port being rendered.
	cur []string
}

// localDetector is upstream's --detect-local-mode=ClusterCIDR: pod traffic is traffic
// from the cluster CIDR.
type localDetector struct{ cidr netip.Prefix }

func (d localDetector) implemented() bool { return d.cidr.IsValid() }
func (d localDetector) ifLocal() []string { return []string{"-s", d.cidr.String()} }
func (d localDetector) ifNotLocal() []string {
	return []string{"!", "-s", d.cidr.String()}
}

func newRenderer(cfg proxy.Config, largeCluster bool, names *nameCache, activeHint int) *renderer {
	r := &renderer{
		names:        names,
		cfg:          cfg,
		mark:         cfg.MasqueradeMark(),
		detector:     localDetector{cidr: cfg.ClusterCIDR},
		largeCluster: largeCluster,
		active:       make(sets.Set[string], activeHint),
		services:     make(map[proxy.ServicePortName]*svcLines, activeHint/3),
	}
	if len(cfg.NodeIPs) > 0 {
		r.nodeIP = cfg.NodeIPs[0]
	}
	return r
}

// totalEndpoints counts endpoints of proxied ports, the measure upstream uses for
// large cluster mode.
func totalEndpoints(state *proxy.State) int {
	n := 0
	for name := range state.Services {
		n += len(state.Endpoints[name])
	}
	return n
}

func (r *renderer) probability(n int) string {
	for len(r.probabilities) <= n {
		r.probabilities = append(r.probabilities, computeProbability(max(len(r.probabilities), 1)))
	}
	return r.probabilities[n]
}

// header writes the top-level chains and the masquerade rules.
func (r *renderer) header() {
	for _, c := range []string{kubeServicesChain, kubeExternalServicesChain, kubeForwardChain, kubeNodePortsChain, kubeProxyFirewallChain} {
		r.filterChains.write(chainLine(c))
	}
	for _, c := range []string{kubeServicesChain, kubeNodePortsChain, kubePostroutingChain, kubeMarkMasqChain} {
		r.natChains.write(chainLine(c))
	}
	r.natTopDecls = r.natChains.b.Len()
	start := r.natRules.b.Len()
	defer r.markNatTop(start)
	markMask := r.mark + "/" + r.mark
	r.natRules.write("-A", kubePostroutingChain, "-m", "mark", "!", "--mark", markMask, "-j", "RETURN")
	// Clear the mark so a packet that goes through the stack again is not masqueraded twice.
	r.natRules.write("-A", kubePostroutingChain, "-j", "MARK", "--xor-mark", r.mark)
	r.natRules.write("-A", kubePostroutingChain, "-m", "comment", "--comment", `"kubernetes service traffic requiring SNAT"`, "-j", "MASQUERADE")
	r.natRules.write("-A", kubeMarkMasqChain, "-j", "MARK", "--or-mark", r.mark)
}

// servicePort writes every rule of one Service port. skip leaves its per-Service chains
// out of the payload (a partial sync of an unchanged Service): they are only recorded as
// active, so the kernel keeps them as they are.
func (r *renderer) servicePort(svc *proxy.ServicePort, eps []proxy.Endpoint, skip bool) {
	name := svc.Name
	if skip && r.prev != nil {
		if c, ok := r.prev.services[name]; ok {
			start := r.natRules.b.Len()
			r.natRules.b.WriteString(c.nat)
			r.natRules.lines += c.natLines
			r.markNatTop(start)
			r.filterRules.b.WriteString(c.filter)
			r.filterRules.lines += c.filterLines
			for _, ch := range c.active {
				r.active.Insert(ch)
			}
			r.services[name] = c
			return
		}
	}
	natStart, natLines := r.natRules.b.Len(), r.natRules.lines
	filterStart, filterLines := r.filterRules.b.Len(), r.filterRules.lines
	chains := r.names.port(name)
	nameString := chains.nameString
	protocol := protocolOf(name)
	port := strconv.Itoa(svc.Port)
	cat := proxy.CategorizeEndpoints(eps, svc)

	clusterPolicyChain := chains.svc
	usesClusterPolicyChain := len(cat.Cluster) > 0 && svc.UsesClusterEndpoints()
	localPolicyChain := chains.svl
	usesLocalPolicyChain := len(cat.Local) > 0 && svc.UsesLocalEndpoints()

	internalTrafficChain := clusterPolicyChain
	hasInternalEndpoints := cat.HasAny
	if svc.InternalPolicyLocal {
		internalTrafficChain = localPolicyChain
		if len(cat.Local) == 0 {
			hasInternalEndpoints = false
		}
	}
	externalPolicyChain := clusterPolicyChain
	hasExternalEndpoints := cat.HasAny
	if svc.ExternalPolicyLocalApplies() {
		externalPolicyChain = localPolicyChain
		if len(cat.Local) == 0 {
			hasExternalEndpoints = false
		}
	}
	externalTrafficChain := chains.ext
	// The short-circuit rules for local traffic are needed even without external
	// endpoints, so this depends on hasAny, not hasExternalEndpoints.
	usesExternalTrafficChain := cat.HasAny && svc.ExternallyAccessible()

	loadBalancerTrafficChain := externalTrafficChain
	fwChain := chains.fw
	usesFWChain := cat.HasAny && len(svc.LoadBalancerVIPs) > 0 && len(svc.LoadBalancerSourceRanges) > 0
	if usesFWChain {
		loadBalancerTrafficChain = fwChain
	}

	var internalFilterTarget, internalFilterComment, externalFilterTarget, externalFilterComment string
	if !cat.HasAny {
		// No endpoints anywhere: no nat chains at all, only filter rules rejecting.
		internalFilterTarget = "REJECT"
		internalFilterComment = fmt.Sprintf(`"%s has no endpoints"`, nameString)
		externalFilterTarget, externalFilterComment = internalFilterTarget, internalFilterComment
	} else {
		if !hasInternalEndpoints {
			internalFilterTarget = "DROP"
			internalFilterComment = fmt.Sprintf(`"%s has no local endpoints"`, nameString)
		}
		if !hasExternalEndpoints {
			externalFilterTarget = "DROP"
			externalFilterComment = fmt.Sprintf(`"%s has no local endpoints"`, nameString)
		}
	}

	proto := []string{"-m", protocol, "-p", protocol}
	clusterIP := svc.ClusterIP.String()

	// Capture the ClusterIP.
	if hasInternalEndpoints {
		r.natRules.write("-A", kubeServicesChain, "-m", "comment", "--comment", fmt.Sprintf(`"%s cluster IP"`, nameString),
			proto, "-d", clusterIP, "--dport", port, "-j", internalTrafficChain)
	} else {
		r.filterRules.write("-A", kubeServicesChain, "-m", "comment", "--comment", internalFilterComment,
			proto, "-d", clusterIP, "--dport", port, "-j", internalFilterTarget)
	}

	// Capture externalIPs.
	for _, ip := range svc.ExternalIPs {
		if cat.HasAny {
			r.natRules.write("-A", kubeServicesChain, "-m", "comment", "--comment", fmt.Sprintf(`"%s external IP"`, nameString),
				proto, "-d", ip.String(), "--dport", port, "-j", externalTrafficChain)
		}
		if !hasExternalEndpoints {
			r.filterRules.write("-A", kubeExternalServicesChain, "-m", "comment", "--comment", externalFilterComment,
				proto, "-d", ip.String(), "--dport", port, "-j", externalFilterTarget)
		}
	}

	// Capture load balancer ingress IPs.
	for _, ip := range svc.LoadBalancerVIPs {
		if cat.HasAny {
			r.natRules.write("-A", kubeServicesChain, "-m", "comment", "--comment", fmt.Sprintf(`"%s loadbalancer IP"`, nameString),
				proto, "-d", ip.String(), "--dport", port, "-j", loadBalancerTrafficChain)
		}
		if usesFWChain {
			r.filterRules.write("-A", kubeProxyFirewallChain, "-m", "comment", "--comment",
				fmt.Sprintf(`"%s traffic not accepted by %s"`, nameString, fwChain),
				proto, "-d", ip.String(), "--dport", port, "-j", "DROP")
		}
	}
	if !hasExternalEndpoints {
		for _, ip := range svc.LoadBalancerVIPs {
			r.filterRules.write("-A", kubeExternalServicesChain, "-m", "comment", "--comment", externalFilterComment,
				proto, "-d", ip.String(), "--dport", port, "-j", externalFilterTarget)
		}
	}

	// Capture NodePorts.
	if svc.NodePort != 0 {
		nodePort := strconv.Itoa(svc.NodePort)
		if cat.HasAny {
			// NodePorts are not subject to loadBalancerSourceRanges (upstream keeps it so).
			r.natRules.write("-A", kubeNodePortsChain, "-m", "comment", "--comment", nameString,
				proto, "--dport", nodePort, "-j", externalTrafficChain)
		}
		if !hasExternalEndpoints {
			r.filterRules.write("-A", kubeExternalServicesChain, "-m", "comment", "--comment", externalFilterComment,
				"-m", "addrtype", "--dst-type", "LOCAL", proto, "--dport", nodePort, "-j", externalFilterTarget)
		}
	}

	// Health check NodePorts are accepted whether or not there are local endpoints.
	if svc.HealthCheckNodePort != 0 && svc.ExternalPolicyLocalApplies() {
		r.filterRules.write("-A", kubeNodePortsChain, "-m", "comment", "--comment", fmt.Sprintf(`"%s health check node port"`, nameString),
			"-m", "tcp", "-p", "tcp", "--dport", strconv.Itoa(svc.HealthCheckNodePort), "-j", "ACCEPT")
	}

	r.markNatTop(natStart)
	entry := &svcLines{
		nat: r.natRules.String()[natStart:], natLines: r.natRules.lines - natLines,
		filter: r.filterRules.String()[filterStart:], filterLines: r.filterRules.lines - filterLines,
	}
	r.services[name] = entry
	r.cur = nil
	defer func() { entry.active = r.cur }()

	if skip {
		if usesExternalTrafficChain {
			r.activate(externalTrafficChain)
		}
		if usesFWChain {
			r.activate(fwChain)
		}
		if usesClusterPolicyChain {
			r.activate(clusterPolicyChain)
		}
		if usesLocalPolicyChain {
			r.activate(localPolicyChain)
		}
		for _, ep := range cat.AllReachable {
			r.activate(r.names.endpoint(name, ep.String()))
		}
		return
	}
	natChains, natRules := &r.natChains, &r.natRules

	// Internal traffic: masquerade what does not come from a pod (it may have been routed
	// here from off the cluster and must come back through this node).
	if hasInternalEndpoints {
		args := []string{"-m", "comment", "--comment", fmt.Sprintf(`"%s cluster IP"`, nameString), "-m", protocol, "-p", protocol, "-d", clusterIP, "--dport", port}
		if r.cfg.MasqueradeAll {
			natRules.write("-A", internalTrafficChain, args, "-j", kubeMarkMasqChain)
		} else if r.detector.implemented() {
			natRules.write("-A", internalTrafficChain, args, r.detector.ifNotLocal(), "-j", kubeMarkMasqChain)
		}
	}

	// External traffic: everything goes through the EXT chain, which handles the special
	// cases and then jumps to the policy chain.
	if usesExternalTrafficChain {
		natChains.write(chainLine(externalTrafficChain))
		r.activate(externalTrafficChain)
		if !svc.ExternalPolicyLocalApplies() {
			// Endpoints may be on other nodes: masquerade so replies come back here.
			natRules.write("-A", externalTrafficChain, "-m", "comment", "--comment",
				fmt.Sprintf(`"masquerade traffic for %s external destinations"`, nameString), "-j", kubeMarkMasqChain)
		} else {
			if r.detector.implemented() {
				// Pod -> external address is not subject to either traffic policy, as if it
				// went out to the load balancer and came back.
				natRules.write("-A", externalTrafficChain, "-m", "comment", "--comment",
					fmt.Sprintf(`"pod traffic for %s external destinations"`, nameString), r.detector.ifLocal(), "-j", clusterPolicyChain)
			}
			// The host's own traffic to an external address has a local source address
			// that the endpoint cannot answer to directly: masquerade it.
			natRules.write("-A", externalTrafficChain, "-m", "comment", "--comment",
				fmt.Sprintf(`"masquerade LOCAL traffic for %s external destinations"`, nameString),
				"-m", "addrtype", "--src-type", "LOCAL", "-j", kubeMarkMasqChain)
			natRules.write("-A", externalTrafficChain, "-m", "comment", "--comment",
				fmt.Sprintf(`"route LOCAL traffic for %s external destinations"`, nameString),
				"-m", "addrtype", "--src-type", "LOCAL", "-j", clusterPolicyChain)
		}
		if hasExternalEndpoints {
			natRules.write("-A", externalTrafficChain, "-j", externalPolicyChain)
		}
	}

	// Firewall chain for loadBalancerSourceRanges.
	if usesFWChain {
		natChains.write(chainLine(fwChain))
		r.activate(fwChain)
		args := []string{"-A", fwChain, "-m", "comment", "--comment", fmt.Sprintf(`"%s loadbalancer IP"`, nameString)}
		allowFromNode := false
		for _, cidr := range svc.LoadBalancerSourceRanges {
			natRules.write(args, "-s", cidr.String(), "-j", externalTrafficChain)
			if r.nodeIP.IsValid() && cidr.Contains(r.nodeIP) {
				allowFromNode = true
			}
		}
		// A VIP-like load balancer address is often local to the node, so the node's own
		// requests to it arrive with the VIP as source: let them in.
		if allowFromNode {
			for _, ip := range svc.LoadBalancerVIPs {
				natRules.write(args, "-s", ip.String(), "-j", externalTrafficChain)
			}
		}
		// What reaches the end was not DNATed, so KUBE-PROXY-FIREWALL drops it.
		natRules.write("-A", fwChain, "-m", "comment", "--comment",
			fmt.Sprintf(`"other traffic to %s will be dropped by KUBE-PROXY-FIREWALL"`, nameString))
	}

	if usesClusterPolicyChain {
		natChains.write(chainLine(clusterPolicyChain))
		r.activate(clusterPolicyChain)
		r.serviceToEndpointRules(natRules, nameString, svc, clusterPolicyChain, cat.Cluster)
	}
	if usesLocalPolicyChain {
		natChains.write(chainLine(localPolicyChain))
		r.activate(localPolicyChain)
		r.serviceToEndpointRules(natRules, nameString, svc, localPolicyChain, cat.Local)
	}

	// Per-endpoint chains.
	for _, ep := range cat.AllReachable {
		epChain := r.names.endpoint(name, ep.String())
		natChains.write(chainLine(epChain))
		r.activate(epChain)
		args := r.serviceComment([]string{"-A", epChain}, nameString)
		// Hairpin: a pod reaching itself through the Service is masqueraded, or its reply
		// would bypass the DNAT.
		natRules.write(args, "-s", ep.IP.String(), "-j", kubeMarkMasqChain)
		if svc.SessionAffinityClientIP {
			args = append(args, "-m", "recent", "--name", epChain, "--set")
		}
		natRules.write(args, "-m", protocol, "-p", protocol, "-j", "DNAT", "--to-destination", ep.String())
	}
}

// activate records chain as an active per-Service chain of the Service port being
// rendered.
func (r *renderer) activate(chain string) {
	r.active.Insert(chain)
	r.cur = append(r.cur, chain)
}

// serviceToEndpointRules is upstream's writeServiceToEndpointRules: affinity checks first,
// then one rule per endpoint with probability 1/(n-i), the last one unconditional.
func (r *renderer) serviceToEndpointRules(natRules *lineBuffer, nameString string, svc *proxy.ServicePort, chain string, eps []proxy.Endpoint) {
	if svc.SessionAffinityClientIP {
		for _, ep := range eps {
			epChain := r.names.endpoint(svc.Name, ep.String())
			args := r.serviceComment([]string{"-A", chain}, fmt.Sprintf(`"%s -> %s"`, nameString, ep.String()))
			natRules.write(args, "-m", "recent", "--name", epChain,
				"--rcheck", "--seconds", strconv.Itoa(svc.StickyMaxAgeSeconds), "--reap", "-j", epChain)
		}
	}
	n := len(eps)
	for i, ep := range eps {
		args := r.serviceComment([]string{"-A", chain}, fmt.Sprintf(`"%s -> %s"`, nameString, ep.String()))
		if i < n-1 {
			args = append(args, "-m", "statistic", "--mode", "random", "--probability", r.probability(n-i))
		}
		natRules.write(args, "-j", r.names.endpoint(svc.Name, ep.String()))
	}
}

// serviceComment is upstream's appendServiceCommentLocked: no comments in large clusters.
func (r *renderer) serviceComment(args []string, comment string) []string {
	if r.largeCluster {
		return args
	}
	return append(args, "-m", "comment", "--comment", comment)
}

// footer writes the NodePort jump (which must be the last rule of KUBE-SERVICES) and
// KUBE-FORWARD.
func (r *renderer) footer() {
	start := r.natRules.b.Len()
	defer r.markNatTop(start)
	const comment = `"kubernetes service nodeports; NOTE: this must be the last rule in this chain"`
	if len(r.cfg.NodePortAddresses) == 0 {
		// Localhost NodePorts need route_localnet, which svclab does not set (upstream's
		// --iptables-localhost-nodeports=false), so loopback is excluded.
		r.natRules.write("-A", kubeServicesChain, "-m", "comment", "--comment", comment,
			"-m", "addrtype", "--dst-type", "LOCAL", "!", "-d", "127.0.0.0/8", "-j", kubeNodePortsChain)
	} else {
		for _, ip := range nodePortIPs(r.cfg) {
			r.natRules.write("-A", kubeServicesChain, "-m", "comment", "--comment", comment,
				"-d", ip.String(), "-j", kubeNodePortsChain)
		}
	}
	// Drop INVALID packets, which would otherwise reset connections (upstream does this
	// unless nf_conntrack_tcp_be_liberal is set).
	r.filterRules.write("-A", kubeForwardChain, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
	r.filterRules.write("-A", kubeForwardChain, "-m", "comment", "--comment", `"kubernetes forwarding rules"`,
		"-m", "mark", "--mark", r.mark+"/"+r.mark, "-j", "ACCEPT")
	r.filterRules.write("-A", kubeForwardChain, "-m", "comment", "--comment", `"kubernetes forwarding conntrack rule"`,
		"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
}

// nodePortIPs are the node addresses inside cfg.NodePortAddresses (non-loopback), in
// order.
func nodePortIPs(cfg proxy.Config) []netip.Addr {
	var out []netip.Addr
	for _, ip := range cfg.NodeIPs {
		if ip.IsLoopback() || slices.Contains(out, ip) {
			continue
		}
		for _, p := range cfg.NodePortAddresses {
			if p.Contains(ip) {
				out = append(out, ip)
				break
			}
		}
	}
	return out
}

// deleteChains flushes and deletes stale per-Service chains.
func (r *renderer) deleteChains(stale []string) {
	slices.Sort(stale)
	for _, c := range stale {
		r.natChains.write(chainLine(c))
		r.natRules.write("-X", c)
	}
}

// filterSection is the filter part of the payload.
func (r *renderer) filterSection() string {
	var b strings.Builder
	b.Grow(len(r.filterChains.String()) + len(r.filterRules.String()) + 32)
	b.WriteString("*filter\n")
	b.WriteString(r.filterChains.String())
	b.WriteString(r.filterRules.String())
	b.WriteString("COMMIT\n")
	return b.String()
}

// payload is the restore input: filter, then nat, each ending in COMMIT. filter is
// filterSection's text, or "" to leave the filter table alone; withoutNatTop leaves the
// top-level nat chains out (their text is unchanged since the last sync).
func (r *renderer) payload(filter string, withoutNatTop bool) []byte {
	var b strings.Builder
	b.Grow(len(filter) + len(r.natChains.String()) + len(r.natRules.String()) + 32)
	b.WriteString(filter)
	b.WriteString("*nat\n")
	if withoutNatTop {
		b.WriteString(r.natChains.String()[r.natTopDecls:])
		b.WriteString(r.natRulesWithoutTop())
	} else {
		b.WriteString(r.natChains.String())
		b.WriteString(r.natRules.String())
	}
	b.WriteString("COMMIT\n")
	return []byte(b.String())
}
