package dns

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// ptr answers a PTR query for a Service ClusterIP or an endpoint address, or returns nil
// when the address is unknown so the query falls through to the forwarder (CoreDNS's
// "fallthrough in-addr.arpa ip6.arpa").
func (h *Handler) ptr(r *dns.Msg) *dns.Msg {
	q := r.Question[0]
	a, ok := reverseAddr(q.Name)
	if !ok {
		return nil
	}
	names := h.Index.reverse(a)
	if len(names) == 0 {
		return nil
	}
	m := new(dns.Msg).SetReply(r)
	m.Authoritative = true
	for _, n := range names {
		target := n[1] + "." + n[2] + ".svc." + h.Zone
		if n[0] != "" {
			target = n[0] + "." + target
		}
		m.Answer = append(m.Answer, &dns.PTR{Hdr: h.hdr(q.Name, dns.TypePTR), Ptr: target})
	}
	return m
}

// reverseAddr parses a full in-addr.arpa or ip6.arpa name back into its address.
func reverseAddr(name string) (netip.Addr, bool) {
	name = strings.ToLower(dns.Fqdn(name))
	if s, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 10, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if s, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		parts := strings.Split(s, ".")
		if len(parts) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 16, 4)
			if err != nil || len(p) != 1 {
				return netip.Addr{}, false
			}
			n := 31 - i
			b[n/2] |= byte(v) << (4 * (1 - n%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
