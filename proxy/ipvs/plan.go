package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/proxy"
)

// DummyDevice is the device that holds every Service address, as upstream names it.
const DummyDevice = "kube-ipvs0"

// flagPersistent is IP_VS_SVC_F_PERSISTENT (ClientIP affinity); flagHashed is set by the
// kernel on every service it returns and is ignored when comparing.
const (
	flagPersistent = 0x1
	flagHashed     = 0x2
	flagSourceHash = 0x10 // IP_VS_SVC_F_SCHED1, needed by the "mh" scheduler
)

// virtualServer is one desired IPVS virtual server and its real servers.
type virtualServer struct {
	svc       *mobyipvs.Service
	portName  string // "ns/name:port" for logs
	dests     []netip.AddrPort
	localOnly bool
}

// plan is the desired state of one sync.
type plan struct {
	servers map[string]*virtualServer // by vsKey
	order   []string
	bind    []netip.Addr // addresses wanted on kube-ipvs0
	sets    Sets
	// lbNoNodeAccess are LoadBalancer ip,proto,port the node itself may not use (source
	// ranges that exclude the node).
	lbNoNodeAccess [][3]string
}

func protoNumber(p corev1.Protocol) uint16 {
	switch p {
	case corev1.ProtocolUDP:
		return unix.IPPROTO_UDP
	case corev1.ProtocolSCTP:
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

func protoName(n uint16) string {
	switch n {
	case unix.IPPROTO_UDP:
		return "UDP"
	case unix.IPPROTO_SCTP:
		return "SCTP"
	}
	return "TCP"
}

// vsKey is upstream's VirtualServer.String(): "172.30.0.41:80/TCP".
func vsKey(proto uint16, addr netip.Addr, port uint16) string {
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(addr, port), protoName(proto))
}

func serviceKey(s *mobyipvs.Service) string {
	a, _ := netip.AddrFromSlice(s.Address)
	return vsKey(s.Protocol, a.Unmap(), s.Port)
}

// newService is the moby/ipvs service for one address and port of sp.
func (p *Proxier) newService(sp *proxy.ServicePort, addr netip.Addr, port int) *mobyipvs.Service {
	s := &mobyipvs.Service{
		Address:       addr.AsSlice(),
		Protocol:      protoNumber(sp.Protocol),
		Port:          uint16(port),
		SchedName:     p.opts.Scheduler,
		AddressFamily: unix.AF_INET,
		Netmask:       0xffffffff,
	}
	if sp.SessionAffinityClientIP {
		s.Flags |= flagPersistent
		s.Timeout = uint32(sp.StickyMaxAgeSeconds)
	}
	if p.opts.Scheduler == "mh" {
		s.Flags |= flagSourceHash
	}
	return s
}

// buildPlan computes the desired virtual servers, addresses and set members from state,
// following upstream's syncProxyRules. nodeAddrs are the node's local addresses outside
// kube-ipvs0.
func (p *Proxier) buildPlan(state *proxy.State, nodeAddrs []netip.Addr) *plan {
	pl := &plan{servers: map[string]*virtualServer{}, sets: Sets{}}
	add := func(set, entry string) {
		if !slices.Contains(pl.sets[set], entry) {
			pl.sets[set] = append(pl.sets[set], entry)
		}
	}
	bind := func(a netip.Addr) {
		if !slices.Contains(pl.bind, a) {
			pl.bind = append(pl.bind, a)
		}
	}
	nodePortIPs := p.nodePortIPs(state, nodeAddrs)
	for _, name := range state.SortedServicePorts() {
		sp := state.Services[name]
		proto := strings.ToLower(string(sp.Protocol))
		eps := state.Endpoints[name]
		cat := proxy.CategorizeEndpoints(eps, sp)
		pick := func(localOnly bool) []netip.AddrPort {
			use := cat.Cluster
			// Like upstream (kubernetes#97081): with no local endpoint, a Local policy falls
			// back to the cluster-wide ones rather than blackholing.
			if localOnly && len(cat.Local) > 0 {
				use = cat.Local
			}
			var out []netip.AddrPort
			for _, e := range use {
				out = append(out, netip.AddrPortFrom(e.IP, uint16(e.Port)))
			}
			return out
		}
		server := func(addr netip.Addr, port int, localOnly bool) {
			s := p.newService(sp, addr, port)
			key := serviceKey(s)
			if _, dup := pl.servers[key]; dup {
				return
			}
			pl.servers[key] = &virtualServer{svc: s, portName: name.String(), dests: pick(localOnly), localOnly: localOnly}
			pl.order = append(pl.order, key)
		}
		for _, e := range eps {
			if e.Local {
				add(SetLoopBack, fmt.Sprintf("%s,%s:%d,%s", e.IP, proto, e.Port, e.IP))
			}
		}
		hashEntry := func(ip netip.Addr) string { return fmt.Sprintf("%s,%s:%d", ip, proto, sp.Port) }

		add(SetClusterIP, hashEntry(sp.ClusterIP))
		server(sp.ClusterIP, sp.Port, sp.InternalPolicyLocal)
		bind(sp.ClusterIP)

		externalLocal := sp.ExternalPolicyLocalApplies()
		for _, ip := range sp.ExternalIPs {
			if externalLocal {
				add(SetExternalIPLocal, hashEntry(ip))
			} else {
				add(SetExternalIP, hashEntry(ip))
			}
			server(ip, sp.Port, externalLocal)
			// An address that is already the node's own must not go on the dummy device.
			if !slices.Contains(nodeAddrs, ip) {
				bind(ip)
			}
		}
		for _, ip := range sp.LoadBalancerVIPs {
			add(SetLoadBalancer, hashEntry(ip))
			if externalLocal {
				add(SetLoadBalancerLocal, hashEntry(ip))
			}
			if len(sp.LoadBalancerSourceRanges) > 0 {
				add(SetLoadBalancerFW, hashEntry(ip))
				allowFromNode := false
				for _, cidr := range sp.LoadBalancerSourceRanges {
					add(SetLoadBalancerSrcCIDR, fmt.Sprintf("%s,%s:%d,%s", ip, proto, sp.Port, cidr))
					if len(p.cfg.NodeIPs) > 0 && cidr.Contains(p.cfg.NodeIPs[0]) {
						allowFromNode = true
					}
				}
				if allowFromNode {
					add(SetLoadBalancerSrcIP, fmt.Sprintf("%s,%s:%d,%s", ip, proto, sp.Port, ip))
				} else {
					pl.lbNoNodeAccess = append(pl.lbNoNodeAccess, [3]string{ip.String(), proto, fmt.Sprint(sp.Port)})
				}
			}
			server(ip, sp.Port, externalLocal)
			if !slices.Contains(nodeAddrs, ip) {
				bind(ip)
			}
		}
		if sp.NodePort != 0 && len(nodePortIPs) > 0 {
			set, local := "", ""
			switch sp.Protocol {
			case corev1.ProtocolTCP:
				set, local = SetNodePortTCP, SetNodePortLocalTCP
			case corev1.ProtocolUDP:
				set, local = SetNodePortUDP, SetNodePortLocalUDP
			}
			if set != "" {
				add(set, fmt.Sprint(sp.NodePort))
				if externalLocal {
					add(local, fmt.Sprint(sp.NodePort))
				}
			}
			for _, ip := range nodePortIPs {
				server(ip, sp.NodePort, externalLocal)
			}
		}
		if sp.HealthCheckNodePort != 0 {
			add(SetHealthCheckNodePort, fmt.Sprint(sp.HealthCheckNodePort))
		}
	}
	slices.SortFunc(pl.bind, netip.Addr.Compare)
	for _, a := range pl.bind {
		add(SetIPVSIPs, a.String())
	}
	for name := range pl.sets {
		slices.Sort(pl.sets[name])
	}
	return pl
}

// nodePortIPs are the addresses NodePort virtual servers listen on: every local address
// (upstream includes 127.0.0.1) unless NodePortAddresses narrows them, then without
// loopback.
func (p *Proxier) nodePortIPs(state *proxy.State, nodeAddrs []netip.Addr) []netip.Addr {
	has := false
	for _, sp := range state.Services {
		if sp.NodePort != 0 {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	var out []netip.Addr
	for _, a := range nodeAddrs {
		if !a.Is4() {
			continue
		}
		if len(p.cfg.NodePortAddresses) == 0 {
			out = append(out, a)
			continue
		}
		if a.IsLoopback() {
			continue
		}
		for _, pfx := range p.cfg.NodePortAddresses {
			if pfx.Contains(a) {
				out = append(out, a)
				break
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
