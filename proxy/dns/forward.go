package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// DefaultForwardTimeout bounds one forwarded query over all upstreams: after it the
// client gets SERVFAIL, never silence.
const DefaultForwardTimeout = 2 * time.Second

// ErrNoUpstream is returned when there is no resolver to forward to.
var ErrNoUpstream = errors.New("no upstream resolvers")

// Upstream forwards queries to the host's resolvers, in order, over UDP with a TCP retry
// for truncated replies.
type Upstream struct {
	Servers []string // "host:port"
	Timeout time.Duration
}

var _ Forwarder = (*Upstream)(nil)

// Forward sends r to the servers in turn until one answers, within the timeout.
func (u *Upstream) Forward(ctx context.Context, r *dns.Msg) (*dns.Msg, error) {
	if len(u.Servers) == 0 {
		return nil, ErrNoUpstream
	}
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = DefaultForwardTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for i, s := range u.Servers {
		deadline, _ := ctx.Deadline()
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		// Share what is left among the remaining servers, so a black hole first in the
		// list leaves time for the next one.
		per := max(left/time.Duration(len(u.Servers)-i), 250*time.Millisecond)
		resp, err := exchange(ctx, r, s, min(per, left))
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s, err))
	}
	if len(errs) == 0 {
		errs = append(errs, context.DeadlineExceeded)
	}
	return nil, fmt.Errorf("forward %s: %w", r.Question[0].Name, errors.Join(errs...))
}

func exchange(ctx context.Context, r *dns.Msg, server string, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: timeout, UDPSize: dns.DefaultMsgSize}
	resp, _, err := c.ExchangeContext(ctx, r.Copy(), server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, r.Copy(), server)
	}
	return resp, err
}

// UpstreamsFromResolvConf returns the nameservers of a resolv.conf as "host:port",
// skipping addresses inside skip (the cluster's Service network: forwarding to the
// cluster DNS itself would loop).
func UpstreamsFromResolvConf(path string, skip netip.Prefix) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read resolvers from %s: %w", path, err)
	}
	var out []string
	for _, s := range cfg.Servers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if skip.IsValid() && skip.Contains(a.Unmap()) {
			continue
		}
		out = append(out, net.JoinHostPort(a.String(), cfg.Port))
	}
	return out, nil
}
