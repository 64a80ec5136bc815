package exercises

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/miekg/dns"
)

// ValidateCheck returns what is wrong with a check (nothing when it is valid).
func ValidateCheck(c *Check) []string {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(c.Name) == "" {
		add("name is required (it is what the report shows)")
	}
	n := 0
	for _, set := range []bool{c.Object != nil, c.Endpoints != nil, c.HTTP != nil, c.TCP != nil, c.UDP != nil, c.DNS != nil, c.Trace != nil, c.Command != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		add("give exactly one of object, endpoints, http, tcp, udp, dns, trace, command (found %d)", n)
		return bad
	}
	for _, f := range TemplatedFields(c) {
		if err := parseTemplate(*f); err != nil {
			add("template %q: %v", *f, err)
		}
	}
	switch {
	case c.Object != nil:
		o := c.Object
		if o.Resource == "" {
			add("object.resource is required (e.g. services, deployments, pods)")
		}
		if (o.Name == "") == (o.Selector == "") {
			add("object: give name or selector, not both")
		}
		if o.Count.IsSet() && o.Selector == "" {
			add("object.count needs a selector")
		}
		if o.Absent && len(o.Expect) > 0 {
			add("object.absent takes no expect")
		}
		for _, s := range o.Expect {
			if _, err := ParseExpectation(s); err != nil {
				add("%v", err)
			}
		}
	case c.Endpoints != nil:
		if c.Endpoints.Service == "" {
			add("endpoints.service is required")
		}
		if !c.Endpoints.Ready.IsSet() && !c.Endpoints.NotReady.IsSet() {
			add("endpoints: give ready and/or notReady counts")
		}
	case c.HTTP != nil:
		h := c.HTTP
		bad = append(bad, validateFrom("http.from", h.From, true)...)
		bad = append(bad, validateEach(h.Each)...)
		if !validURL(h.URL) {
			add("http.url %q: want an http:// or https:// URL", h.URL)
		}
		for k, v := range h.Headers {
			if err := parseTemplate(v); err != nil {
				add("http.headers[%s] %q: %v", k, v, err)
			}
		}
		if h.Requests < 0 || h.Requests > 200 {
			add("http.requests must be 0-200")
		}
		if h.Expect.BodyMatches != "" {
			if _, err := regexp.Compile(h.Expect.BodyMatches); err != nil {
				add("http.expect.bodyMatches: %v", err)
			}
		}
		if h.Expect.DistinctPods > 1 && h.Requests < h.Expect.DistinctPods {
			add("http.expect.distinctPods %d needs requests >= %d", h.Expect.DistinctPods, h.Expect.DistinctPods)
		}
	case c.TCP != nil:
		bad = append(bad, validateWire("tcp", c.TCP)...)
	case c.UDP != nil:
		bad = append(bad, validateWire("udp", c.UDP)...)
		if c.UDP.Send == "" {
			add("udp.send is required (a datagram to send)")
		}
	case c.DNS != nil:
		d := c.DNS
		bad = append(bad, validateFrom("dns.from", d.From, false)...)
		if d.Name == "" {
			add("dns.name is required")
		}
		if d.Type != "" {
			if _, ok := dns.StringToType[strings.ToUpper(d.Type)]; !ok {
				add("dns.type %q is not a DNS record type", d.Type)
			}
		}
		if d.Expect.Rcode != "" {
			if _, ok := dns.StringToRcode[strings.ToUpper(d.Expect.Rcode)]; !ok {
				add("dns.expect.rcode %q: use NOERROR, NXDOMAIN, SERVFAIL, ...", d.Expect.Rcode)
			}
		}
	case c.Trace != nil:
		t := c.Trace
		if t.Node == "" || t.From == "" || t.To == "" {
			add("trace: node, from and to are required")
		}
		switch t.Expect.Verdict {
		case "", "forwarded", "rejected", "dropped", "untouched", "proxied":
		default:
			add("trace.expect.verdict %q: use forwarded, rejected, dropped, untouched or proxied", t.Expect.Verdict)
		}
		switch t.Expect.Mode {
		case "", "iptables", "nftables", "ipvs", "userspace":
		default:
			add("trace.expect.mode %q: use iptables, nftables, ipvs or userspace", t.Expect.Mode)
		}
	case c.Command != nil:
		if strings.TrimSpace(c.Command.Run) == "" {
			add("command.run is required")
		}
		bad = append(bad, validateFrom("command.on", c.Command.On, false)...)
		if strings.HasPrefix(string(c.Command.On), "pod/") {
			add("command.on: use host or node/NAME (run commands in pods with kubectl exec)")
		}
		if c.Command.Expect.OutputMatches != "" {
			if _, err := regexp.Compile(c.Command.Expect.OutputMatches); err != nil {
				add("command.expect.outputMatches: %v", err)
			}
		}
	}
	return bad
}

func validateWire(kind string, w *WireCheck) []string {
	from, each, addr, requests, exp := w.From, w.Each, w.Address, w.Requests, w.Expect
	bad := validateFrom(kind+".from", from, true)
	bad = append(bad, validateEach(each)...)
	if addr == "" {
		bad = append(bad, kind+".address is required (HOST:PORT)")
	} else if !strings.Contains(addr, "{{") {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad = append(bad, fmt.Sprintf("%s.address %q: want HOST:PORT", kind, addr))
		}
	}
	if requests < 0 || requests > 200 {
		bad = append(bad, kind+".requests must be 0-200")
	}
	if exp.DistinctPods > 1 && requests < exp.DistinctPods {
		bad = append(bad, fmt.Sprintf("%s.expect.distinctPods %d needs requests >= %d", kind, exp.DistinctPods, exp.DistinctPods))
	}
	return bad
}

func validateEach(e Each) []string {
	if e != "" && e != "node" {
		return []string{fmt.Sprintf("each %q: the only value is node", e)}
	}
	return nil
}

func validateFrom(field string, f From, podOK bool) []string {
	s := string(f)
	switch {
	case s == "" || s == "host" || strings.Contains(s, "{{"):
		return nil
	case strings.HasPrefix(s, "node/") && len(s) > len("node/"):
		return nil
	case strings.HasPrefix(s, "pod/") && len(s) > len("pod/"):
		return nil
	}
	return []string{fmt.Sprintf("%s %q: use host, node/NAME, pod/NAME, pod/NAMESPACE/NAME or pod/LABEL=VALUE", field, s)}
}

// TemplatedFields returns the check's string fields that are Go templates, rendered by the
// grader before the check runs ({{ clusterIP "web" }}, {{ .Node.IP }}, ...).
func TemplatedFields(c *Check) []*string {
	var f []*string
	switch {
	case c.Object != nil:
		f = append(f, &c.Object.Name, &c.Object.Selector)
		for i := range c.Object.Expect {
			f = append(f, &c.Object.Expect[i])
		}
	case c.Endpoints != nil:
		f = append(f, &c.Endpoints.Service)
	case c.HTTP != nil:
		h := c.HTTP
		f = append(f, (*string)(&h.From), &h.URL, &h.Host, &h.ServerName, &h.Expect.BodyContains, &h.Expect.CertDNSName)
	case c.TCP != nil:
		f = append(f, (*string)(&c.TCP.From), &c.TCP.Address, &c.TCP.Send, &c.TCP.Expect.ReplyContains)
	case c.UDP != nil:
		f = append(f, (*string)(&c.UDP.From), &c.UDP.Address, &c.UDP.Send, &c.UDP.Expect.ReplyContains)
	case c.DNS != nil:
		f = append(f, (*string)(&c.DNS.From), &c.DNS.Name, &c.DNS.Server, &c.DNS.Expect.Contains, &c.DNS.Expect.CNAME)
	case c.Trace != nil:
		f = append(f, &c.Trace.Node, &c.Trace.From, &c.Trace.To, &c.Trace.Expect.EndpointsOf, &c.Trace.Expect.StepContains)
	case c.Command != nil:
		f = append(f, (*string)(&c.Command.On), &c.Command.Run, &c.Command.Expect.OutputContains)
	}
	return f
}

func validURL(s string) bool {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return false
	}
	if strings.Contains(s, "{{") {
		return true // checked once the template is filled in
	}
	u, err := url.Parse(s)
	return err == nil && u.Host != ""
}
