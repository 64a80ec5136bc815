package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/trace"
)

// NodeInfo is what the tracer needs to know about the node besides its IPVS table.
type NodeInfo struct {
	// NodeIPs are the node's own addresses (besides those on kube-ipvs0).
	NodeIPs []netip.Addr
	// ClusterCIDR is the pod network (the masquerade rule's `! -s CIDR`).
	ClusterCIDR   netip.Prefix
	MasqueradeAll bool
}

// NodeInfoFromConfig is the NodeInfo of the node cfg describes.
func NodeInfoFromConfig(cfg proxy.Config) NodeInfo {
	return NodeInfo{NodeIPs: cfg.NodeIPs, ClusterCIDR: cfg.ClusterCIDR, MasqueradeAll: cfg.MasqueradeAll}
}

// Trace follows pkt through the node's ipvs-mode rules: nat KUBE-SERVICES (masquerade
// marks), the filter chains that guard VIPs, the IPVS virtual server and its scheduler,
// and the hairpin masquerade in KUBE-POSTROUTING.
func Trace(table Table, pkt trace.Packet, node NodeInfo) (*trace.Result, error) {
	proto := strings.ToLower(pkt.Protocol)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("trace: protocol %q: use tcp or udp", pkt.Protocol)
	}
	if !pkt.Src.IsValid() || !pkt.Dst.IsValid() {
		return nil, fmt.Errorf("trace: source and destination addresses are required")
	}
	r := &trace.Result{Packet: pkt, Verdict: trace.Untouched}
	t := &tracer{t: table, pkt: pkt, node: node, proto: proto, r: r}
	hook := "PREROUTING"
	if pkt.Origin == trace.FromNode {
		hook = "OUTPUT"
	}
	t.step("nat/"+hook, "-A "+hook+" -m comment --comment \""+commentServicePortals+"\" -j KUBE-SERVICES", "")
	marked := t.natServices()
	if pkt.Origin != trace.FromNode && !t.filterInput() {
		return r, nil
	}
	vs := t.lookup()
	if vs == nil {
		t.step("ipvs", fmt.Sprintf("no virtual server %s %s", strings.ToUpper(proto), netip.AddrPortFrom(pkt.Dst, uint16(pkt.DstPort))),
			"IPVS leaves the packet alone; it is delivered or routed normally")
		return r, nil
	}
	t.virtualServer(vs)
	if r.Verdict == trace.Forwarded {
		r.Masquerade = marked
		t.postrouting(marked)
	}
	return r, nil
}

type tracer struct {
	t     Table
	pkt   trace.Packet
	node  NodeInfo
	proto string
	r     *trace.Result
}

func (t *tracer) step(where, rule, note string) {
	t.r.Steps = append(t.r.Steps, trace.Step{Where: where, Rule: rule, Note: note})
}

func (t *tracer) dstEntry() string { return fmt.Sprintf("%s,%s:%d", t.pkt.Dst, t.proto, t.pkt.DstPort) }

func (t *tracer) in(set string) bool { return t.t.Sets.Has(set, t.dstEntry()) }

func (t *tracer) setRule(chain, set, match, target string) string {
	return fmt.Sprintf("-A %s -m comment --comment %q -m set --match-set %s %s -j %s", chain, setComment(set), set, match, target)
}

// isLocal is `-m addrtype --dst-type LOCAL`: the node's addresses, loopback and every
// address on kube-ipvs0.
func (t *tracer) isLocal(a netip.Addr) bool {
	return a.IsLoopback() || slices.Contains(t.node.NodeIPs, a) || t.t.Sets.Has(SetIPVSIPs, a.String())
}

// natServices walks nat/KUBE-SERVICES and reports whether the packet is marked for
// masquerade.
func (t *tracer) natServices() bool {
	const where = "nat/" + chainServices
	if t.pkt.Src.IsLoopback() {
		t.step(where, "-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN", "connections from localhost are left alone")
		return false
	}
	marked := false
	mark := func(why string) {
		if !marked {
			t.step("nat/"+chainMarkMasq, "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000", why)
		}
		marked = true
	}
	if t.in(SetLoadBalancer) {
		t.step(where, t.setRule(chainServices, SetLoadBalancer, "dst,dst", chainLoadBalancer), "destination is a LoadBalancer IP")
		if t.in(SetLoadBalancerLocal) {
			t.step("nat/"+chainLoadBalancer, t.setRule(chainLoadBalancer, SetLoadBalancerLocal, "dst,dst", "RETURN"),
				"externalTrafficPolicy: Local keeps the client address")
		} else {
			t.step("nat/"+chainLoadBalancer, "-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ", "")
			mark("traffic to a LoadBalancer IP with policy Cluster is masqueraded")
		}
	}
	if t.in(SetClusterIP) {
		switch {
		case t.node.MasqueradeAll:
			t.step(where, t.setRule(chainServices, SetClusterIP, "dst,dst", chainMarkMasq), "masqueradeAll")
			mark("masqueradeAll")
		case t.node.ClusterCIDR.IsValid() && !t.node.ClusterCIDR.Contains(t.pkt.Src):
			t.step(where, fmt.Sprintf("-A KUBE-SERVICES -m comment --comment %q -m set --match-set %s dst,dst ! -s %s -j KUBE-MARK-MASQ",
				setComment(SetClusterIP), SetClusterIP, t.node.ClusterCIDR), "the source is outside the cluster CIDR")
			mark("off-cluster traffic to a ClusterIP is masqueraded")
		}
	}
	for _, set := range []string{SetExternalIP, SetExternalIPLocal} {
		if !t.in(set) {
			continue
		}
		if set == SetExternalIP {
			t.step(where, t.setRule(chainServices, set, "dst,dst", chainMarkMasq), "destination is an external IP")
			mark("traffic to an external IP with policy Cluster is masqueraded")
		}
		t.step(where, fmt.Sprintf("-A KUBE-SERVICES -m comment --comment %q -m set --match-set %s dst,dst ... -j ACCEPT", setComment(set), set),
			"the external IP is handed to IPVS")
		return marked
	}
	if t.isLocal(t.pkt.Dst) {
		t.step(where, "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT", "the destination is a local address")
		port := fmt.Sprint(t.pkt.DstPort)
		set, local := SetNodePortTCP, SetNodePortLocalTCP
		if t.proto == "udp" {
			set, local = SetNodePortUDP, SetNodePortLocalUDP
		}
		switch {
		case t.t.Sets.Has(local, port):
			t.step("nat/"+chainNodePort, fmt.Sprintf("-A KUBE-NODE-PORT -p %s -m comment --comment %q -m set --match-set %s dst -j RETURN", t.proto, setComment(local), local),
				"NodePort with externalTrafficPolicy: Local keeps the client address")
		case t.t.Sets.Has(set, port):
			t.step("nat/"+chainNodePort, fmt.Sprintf("-A KUBE-NODE-PORT -p %s -m comment --comment %q -m set --match-set %s dst -j KUBE-MARK-MASQ", t.proto, setComment(set), set), "")
			mark("NodePort traffic with policy Cluster is masqueraded")
		}
	}
	for _, set := range []string{SetClusterIP, SetLoadBalancer} {
		if t.in(set) {
			t.step(where, fmt.Sprintf("-A KUBE-SERVICES -m set --match-set %s dst,dst -j ACCEPT", set), "")
			break
		}
	}
	return marked
}

// filterInput walks the filter INPUT chains that guard VIPs; false means the packet ends
// there.
func (t *tracer) filterInput() bool {
	if t.in(SetLoadBalancerFW) {
		t.step("filter/"+chainProxyFirewall, t.setRule(chainProxyFirewall, SetLoadBalancerFW, "dst,dst", chainSourceRangesFW),
			"the LoadBalancer has loadBalancerSourceRanges")
		prefix := t.dstEntry() + ","
		allowed := false
		for _, e := range t.t.Sets[SetLoadBalancerSrcCIDR] {
			if p, err := netip.ParsePrefix(strings.TrimPrefix(e, prefix)); err == nil && strings.HasPrefix(e, prefix) && p.Contains(t.pkt.Src) {
				allowed = true
			}
		}
		if t.t.Sets.Has(SetLoadBalancerSrcIP, prefix+t.pkt.Src.String()) {
			allowed = true
		}
		if !allowed {
			t.step("filter/"+chainSourceRangesFW, "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP", "the source is outside loadBalancerSourceRanges")
			t.r.Verdict = trace.Dropped
			return false
		}
		t.step("filter/"+chainSourceRangesFW, t.setRule(chainSourceRangesFW, SetLoadBalancerSrcCIDR, "dst,dst,src", "RETURN"), "the source is allowed")
	}
	if t.t.Sets.Has(SetIPVSIPs, t.pkt.Dst.String()) &&
		!t.in(SetLoadBalancer) && !t.in(SetClusterIP) && !t.in(SetExternalIP) && !t.in(SetExternalIPLocal) &&
		!t.t.Sets.Has(SetHealthCheckNodePort, fmt.Sprint(t.pkt.DstPort)) {
		t.step("filter/"+chainIPVSFilter, "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT",
			"no Service uses this port of the VIP; the node's own services are not reachable through it")
		t.r.Verdict = trace.Rejected
		return false
	}
	return true
}

func (t *tracer) lookup() *VirtualServer {
	for i := range t.t.VirtualServers {
		vs := &t.t.VirtualServers[i]
		if strings.EqualFold(vs.Protocol, t.proto) && vs.Address.Addr() == t.pkt.Dst && int(vs.Address.Port()) == t.pkt.DstPort {
			return vs
		}
	}
	return nil
}

// virtualServer applies the scheduler: each real server with weight > 0 gets
// weight/sum (round robin and its relatives spread new connections that way).
func (t *tracer) virtualServer(vs *VirtualServer) {
	rule := fmt.Sprintf("-A -t %s -s %s", vs.Address, vs.Scheduler)
	if vs.Protocol == "UDP" {
		rule = fmt.Sprintf("-A -u %s -s %s", vs.Address, vs.Scheduler)
	}
	if vs.Persistent {
		rule += fmt.Sprintf(" -p %d", vs.Timeout)
	}
	sum := 0
	for _, rs := range vs.RealServers {
		if rs.Weight > 0 {
			sum += rs.Weight
		}
	}
	if sum == 0 {
		t.step("ipvs", rule, "virtual server without usable real servers: the kernel answers ICMP port unreachable")
		t.r.Verdict = trace.Rejected
		return
	}
	note := fmt.Sprintf("scheduler %s picks a real server for each new connection", vs.Scheduler)
	if vs.Scheduler != "rr" && vs.Scheduler != "wrr" {
		note += " (probabilities shown are the weight shares)"
	}
	t.step("ipvs", rule, note)
	for _, rs := range vs.RealServers {
		if rs.Weight <= 0 {
			t.step("ipvs", fmt.Sprintf("-a -t %s -r %s -m -w 0", vs.Address, rs.Address), "quiesced real server (terminating): no new connections")
			continue
		}
		t.r.Choices = append(t.r.Choices, trace.Choice{
			Endpoint:    rs.Address,
			Probability: float64(rs.Weight) / float64(sum),
			Via:         fmt.Sprintf("%s %s -> %s", vs.Protocol, vs.Address, rs.Address),
		})
	}
	t.r.Verdict = trace.Forwarded
	if vs.Persistent {
		t.r.Affinity = fmt.Sprintf("IPVS persistence: a client keeps its real server for %ds after its last connection", vs.Timeout)
	}
}

// postrouting is nat/KUBE-POSTROUTING: the hairpin set and the masquerade mark.
func (t *tracer) postrouting(marked bool) {
	for _, c := range t.r.Choices {
		if c.Endpoint.Addr() != t.pkt.Src {
			continue
		}
		entry := fmt.Sprintf("%s,%s:%d,%s", c.Endpoint.Addr(), t.proto, c.Endpoint.Port(), t.pkt.Src)
		if t.t.Sets.Has(SetLoopBack, entry) {
			t.step("nat/"+chainPostrouting, t.setRule(chainPostrouting, SetLoopBack, "dst,dst,src", "MASQUERADE"),
				"hairpin: when the pod reaches itself the packet is masqueraded so the reply comes back through IPVS")
			if len(t.r.Choices) == 1 {
				t.r.Masquerade = true
			}
		}
	}
	if marked {
		t.step("nat/"+chainPostrouting, `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
			"marked 0x4000: the source becomes the node's address")
	}
}
