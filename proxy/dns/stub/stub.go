package stub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver holds a resolv.conf's settings.
type Resolver struct {
	Servers  []string // "host:port"
	Search   []string // domains, without trailing dots
	Ndots    int
	Timeout  time.Duration // per attempt
	Attempts int
	TCP      bool // query over TCP from the start
}

// Load reads a resolv.conf.
func Load(path string) (*Resolver, error) {
	c, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r := &Resolver{Ndots: c.Ndots, Timeout: time.Duration(c.Timeout) * time.Second, Attempts: c.Attempts}
	for _, s := range c.Servers {
		r.Servers = append(r.Servers, net.JoinHostPort(s, c.Port))
	}
	for _, s := range c.Search {
		r.Search = append(r.Search, strings.TrimSuffix(s, "."))
	}
	return r, nil
}

// Names returns the fully qualified names to try for name, in order: a name ending in a
// dot as is; a name with at least ndots dots first as is, then with each search domain;
// others with each search domain first, then as is (resolv.conf(5)).
func (r *Resolver) Names(name string) []string {
	if dns.IsFqdn(name) {
		return []string{name}
	}
	var names []string
	absoluteFirst := strings.Count(name, ".") >= r.Ndots
	if absoluteFirst {
		names = append(names, name+".")
	}
	for _, s := range r.Search {
		if s != "" {
			names = append(names, name+"."+s+".")
		}
	}
	if !absoluteFirst {
		names = append(names, name+".")
	}
	return names
}

// Answer is a response and where it came from.
type Answer struct {
	Msg    *dns.Msg
	Name   string // the name asked
	Server string
	Proto  string // "udp" or "tcp"
	RTT    time.Duration
}

// ErrNoServer means no nameserver answered.
var ErrNoServer = errors.New("no nameserver answered")

// Query asks for name and qtype, through the search list when search is set. It returns
// the first answer with records; when none has any, the first NODATA response, else the
// last one (NXDOMAIN), as libc reports the failure of the whole list.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16, search bool) (*Answer, error) {
	names := []string{dns.Fqdn(name)}
	if search {
		names = r.Names(name)
	}
	var last, nodata *Answer
	var errs []error
	for _, n := range names {
		a, err := r.Exchange(ctx, n, qtype)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if a.Msg.Rcode == dns.RcodeSuccess && len(a.Msg.Answer) > 0 {
			return a, nil
		}
		if a.Msg.Rcode == dns.RcodeSuccess && nodata == nil {
			nodata = a // the name exists, without records of this type
		}
		last = a
	}
	// Like glibc's res_search: a name that exists without records of the type (NODATA)
	// outranks the NXDOMAIN of the other search-list candidates.
	if nodata != nil {
		return nodata, nil
	}
	if last != nil {
		return last, nil
	}
	return nil, errors.Join(errs...)
}

// Exchange asks the servers in turn for one name, retrying a truncated UDP answer over
// TCP as a stub resolver does.
func (r *Resolver) Exchange(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	if len(r.Servers) == 0 {
		return nil, fmt.Errorf("%w: no nameserver configured", ErrNoServer)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	attempts := max(r.Attempts, 1)
	var errs []error
	var failed *Answer // a SERVFAIL or REFUSED, returned when no server does better
	for range attempts {
		for _, s := range r.Servers {
			q := new(dns.Msg).SetQuestion(name, qtype)
			proto := "udp"
			if r.TCP {
				proto = "tcp"
			}
			c := &dns.Client{Net: proto, Timeout: timeout}
			m, rtt, err := c.ExchangeContext(ctx, q, s)
			if err == nil && m.Truncated && proto == "udp" {
				proto = "tcp"
				c.Net = proto
				m, rtt, err = c.ExchangeContext(ctx, q, s)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s, err))
				if ctx.Err() != nil {
					return nil, fmt.Errorf("%w for %s: %w", ErrNoServer, name, errors.Join(errs...))
				}
				continue
			}
			if m.Rcode == dns.RcodeServerFailure || m.Rcode == dns.RcodeRefused {
				failed = &Answer{Msg: m, Name: name, Server: s, Proto: proto, RTT: rtt}
				continue
			}
			return &Answer{Msg: m, Name: name, Server: s, Proto: proto, RTT: rtt}, nil
		}
	}
	if failed != nil {
		return failed, nil
	}
	return nil, fmt.Errorf("%w for %s: %w", ErrNoServer, name, errors.Join(errs...))
}

// LookupHost returns the addresses of host: an address literal itself, "localhost" the
// loopback, else the A records (then AAAA) found through the search list.
func (r *Resolver) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	var errs []error
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, err := r.Query(ctx, host, qtype, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if addrs := Addrs(a.Msg); len(addrs) > 0 {
			return addrs, nil
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("resolve %s: %w", host, errors.Join(errs...))
	}
	return nil, fmt.Errorf("resolve %s: %w", host, ErrNotFound)
}

// ErrNotFound means the name has no address.
var ErrNotFound = errors.New("no such host")

// Addrs returns the A and AAAA addresses in a response's answer section.
func Addrs(m *dns.Msg) []netip.Addr {
	var out []netip.Addr
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A); ok {
				out = append(out, a.Unmap())
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				out = append(out, a)
			}
		}
	}
	return out
}
