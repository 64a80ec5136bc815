package dns

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// result is the outcome of resolving one name of the cluster domain.
type result struct {
	answer, extra []dns.RR
	nx            bool
}

// cluster answers a query for the cluster domain: authoritative, with the zone's SOA in
// the authority section for NXDOMAIN and NODATA.
func (h *Handler) cluster(ctx context.Context, r *dns.Msg) *dns.Msg {
	q := r.Question[0]
	m := new(dns.Msg).SetReply(r)
	m.Authoritative = true
	res := h.resolve(ctx, q.Name, q.Qtype, map[string]bool{})
	m.Answer, m.Extra = res.answer, res.extra
	if res.nx {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{h.soa()}
	}
	return m
}

func (h *Handler) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: h.TTL}
}

// soa is CoreDNS's SOA for the zone, its minimum TTL the answers' TTL.
func (h *Handler) soa() dns.RR {
	return &dns.SOA{
		Hdr: h.hdr(h.Zone, dns.TypeSOA), Ns: "ns.dns." + h.Zone, Mbox: "hostmaster." + h.Zone,
		Serial: h.Index.Serial(), Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: h.TTL,
	}
}

// resolve answers name (fully qualified, any case, inside the zone) for qtype; seen holds
// the names already answered on the way here through ExternalName Services, so a CNAME
// loop ends instead of repeating.
func (h *Handler) resolve(ctx context.Context, name string, qtype uint16, seen map[string]bool) result {
	lname := strings.ToLower(name)
	seen[lname] = true
	base := strings.TrimSuffix(strings.TrimSuffix(lname, h.Zone), ".")
	var segs []string
	if base != "" {
		segs = strings.Split(base, ".")
	}
	n := len(segs)
	if n == 0 {
		switch qtype {
		case dns.TypeSOA:
			return result{answer: []dns.RR{h.soa()}}
		case dns.TypeNS:
			return result{answer: []dns.RR{&dns.NS{Hdr: h.hdr(name, dns.TypeNS), Ns: "ns.dns." + h.Zone}}}
		}
		return result{}
	}
	kind := segs[n-1]
	if kind != "svc" && kind != "pod" {
		return result{nx: true}
	}
	if n == 1 {
		return result{}
	}
	ns := segs[n-2]
	if !h.Index.namespaceExists(ns) {
		return result{nx: true}
	}
	if n == 2 {
		return result{}
	}
	if kind == "pod" {
		if n != 3 {
			return result{nx: true}
		}
		return h.pod(name, segs[0], qtype)
	}
	svc, ok := h.Index.lookupService(ns, segs[n-3])
	if !ok {
		return result{nx: true}
	}
	switch n {
	case 3:
		return h.service(ctx, name, svc, "", "", qtype, seen)
	case 4:
		return h.endpoint(name, svc, segs[0], qtype)
	case 5:
		return h.service(ctx, name, svc, strings.TrimPrefix(segs[0], "_"), strings.TrimPrefix(segs[1], "_"), qtype, seen)
	}
	return result{nx: true}
}

// pod answers 1-2-3-4.ns.pod.zone with the address in the name (CoreDNS "pods insecure").
func (h *Handler) pod(name, label string, qtype uint16) result {
	s := strings.ReplaceAll(label, "-", ".")
	if strings.Count(label, "-") != 3 || strings.Contains(label, "--") {
		s = strings.ReplaceAll(label, "-", ":")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return result{nx: true}
	}
	return result{answer: h.addrs(name, qtype, []netip.Addr{a})}
}

// addrs returns A (or AAAA) records of the addresses of that family; other types get none.
func (h *Handler) addrs(name string, qtype uint16, as []netip.Addr) []dns.RR {
	var rrs []dns.RR
	for _, a := range as {
		switch {
		case qtype == dns.TypeA && a.Is4():
			rrs = append(rrs, &dns.A{Hdr: h.hdr(name, dns.TypeA), A: a.AsSlice()})
		case qtype == dns.TypeAAAA && a.Is6():
			rrs = append(rrs, &dns.AAAA{Hdr: h.hdr(name, dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// srvTarget is one SRV record to make: a target name, its addresses and a port.
type srvTarget struct {
	target string
	addrs  []netip.Addr
	port   uint16
}

// srv returns the SRV records with CoreDNS's weights (100 shared among the records) and
// the targets' addresses for the additional section.
func (h *Handler) srv(name string, ts []srvTarget) (answer, extra []dns.RR) {
	seen := map[string]bool{}
	for _, t := range ts {
		answer = append(answer, &dns.SRV{Hdr: h.hdr(name, dns.TypeSRV), Priority: 0,
			Weight: uint16(100 / len(ts)), Port: t.port, Target: t.target})
		if !seen[t.target] {
			seen[t.target] = true
			extra = append(extra, h.addrs(t.target, dns.TypeA, t.addrs)...)
			extra = append(extra, h.addrs(t.target, dns.TypeAAAA, t.addrs)...)
		}
	}
	return answer, extra
}

func matchPort(p port, name, proto string) bool {
	return (name == "" || strings.EqualFold(name, p.name)) && (proto == "" || strings.EqualFold(proto, p.protocol))
}

// service answers a Service name, or with portName/proto its _port._proto name.
func (h *Handler) service(ctx context.Context, name string, s service, portName, proto string, qtype uint16, seen map[string]bool) result {
	if s.externalName != "" {
		return h.externalName(ctx, name, s, qtype, seen)
	}
	svcName := s.name + "." + s.namespace + ".svc." + h.Zone
	var targets []srvTarget
	var addrs []netip.Addr
	if s.headless {
		eps, ports := h.Index.endpoints(s)
		if len(eps) == 0 {
			return result{nx: true}
		}
		matched := portName == "" && proto == ""
		for _, p := range ports {
			if !matchPort(p, portName, proto) {
				continue
			}
			matched = true
			for _, e := range eps {
				targets = append(targets, srvTarget{target: e.label + "." + svcName, addrs: []netip.Addr{e.addr}, port: p.port})
			}
		}
		if !matched {
			return result{nx: true}
		}
		for _, e := range eps {
			addrs = append(addrs, e.addr)
		}
	} else {
		if len(s.ips) == 0 {
			return result{nx: true}
		}
		matched := portName == "" && proto == ""
		for _, p := range s.ports {
			if matchPort(p, portName, proto) {
				matched = true
				targets = append(targets, srvTarget{target: svcName, addrs: s.ips, port: p.port})
			}
		}
		if !matched {
			return result{nx: true}
		}
		addrs = s.ips
	}
	if qtype == dns.TypeSRV {
		if len(targets) == 0 {
			return result{}
		}
		answer, extra := h.srv(name, targets)
		return result{answer: answer, extra: extra}
	}
	return result{answer: h.addrs(name, qtype, addrs)}
}

// endpoint answers label.svc.ns.svc.zone: the endpoint whose hostname (or dashed address)
// is label, for any Service that is not an ExternalName.
func (h *Handler) endpoint(name string, s service, label string, qtype uint16) result {
	if s.externalName != "" {
		return result{nx: true}
	}
	eps, ports := h.Index.endpoints(s)
	var addrs []netip.Addr
	for _, e := range eps {
		if e.label == label {
			addrs = append(addrs, e.addr)
		}
	}
	if len(addrs) == 0 {
		return result{nx: true}
	}
	if qtype == dns.TypeSRV {
		var ts []srvTarget
		for _, p := range ports {
			ts = append(ts, srvTarget{target: label + "." + s.name + "." + s.namespace + ".svc." + h.Zone, addrs: addrs, port: p.port})
		}
		if len(ts) == 0 {
			return result{}
		}
		answer, extra := h.srv(name, ts)
		return result{answer: answer, extra: extra}
	}
	return result{answer: h.addrs(name, qtype, addrs)}
}

// externalName answers with a CNAME to the Service's externalName and appends the
// target's records: from the index when the target is in the cluster domain, else through
// the forwarder (CoreDNS's upstream lookup). A failed lookup leaves the CNAME alone.
func (h *Handler) externalName(ctx context.Context, name string, s service, qtype uint16, seen map[string]bool) result {
	target := dns.Fqdn(s.externalName)
	res := result{answer: []dns.RR{&dns.CNAME{Hdr: h.hdr(name, dns.TypeCNAME), Target: target}}}
	if qtype == dns.TypeCNAME {
		return res
	}
	if dns.IsSubDomain(h.Zone, target) {
		if seen[target] {
			return res
		}
		sub := h.resolve(ctx, target, qtype, seen)
		res.answer = append(res.answer, sub.answer...)
		res.extra = append(res.extra, sub.extra...)
		return res
	}
	if h.Forwarder == nil {
		return res
	}
	q := new(dns.Msg).SetQuestion(target, qtype)
	resp, err := h.Forwarder.Forward(ctx, q)
	if err != nil {
		h.Log.Debug("Resolving an ExternalName target failed", "target", target, "err", err)
		return res
	}
	if resp.Rcode == dns.RcodeSuccess {
		res.answer = append(res.answer, resp.Answer...)
	}
	return res
}
