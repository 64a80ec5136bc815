// Package ipvs is svclab's kube-proxy in IP Virtual Server mode, like upstream's
// pkg/proxy/ipvs: Service addresses on the kube-ipvs0 dummy device, one IPVS virtual server per
// Service address and port with NAT real servers, and the few ipsets and iptables rules
// upstream keeps for masquerading, plus a tracer that explains a packet's walk through them.
package ipvs
