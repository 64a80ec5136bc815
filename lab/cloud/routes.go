package cloud

import (
	"context"
	"net/netip"
	"strings"
)

// Route is a host route the cloud owns: Dst (an LB address as a /32, or the whole pool) via
// the nodes in Via as equal-cost next hops. An empty Via is an unreachable route, so traffic to
// an unused pool address fails on the host instead of leaving the machine.
type Route struct {
	Dst netip.Prefix
	Via []netip.Addr
}

// String formats r like `ip route`: "172.30.1.2/32 via 172.30.0.11 via 172.30.0.12" or
// "unreachable 172.30.1.0/24".
func (r Route) String() string {
	if len(r.Via) == 0 {
		return "unreachable " + r.Dst.String()
	}
	var b strings.Builder
	b.WriteString(r.Dst.String())
	for _, v := range r.Via {
		b.WriteString(" via " + v.String())
	}
	return b.String()
}

// Routes is the host routing table as the cloud sees it: only the routes it made (tagged so
// `svclab down` removes them too). NewRoutes returns the real one; cloudtest.Routes records.
type Routes interface {
	// Replace installs r, replacing a route with the same destination.
	Replace(ctx context.Context, r Route) error
	// Delete removes the route to dst; a missing one is not an error.
	Delete(ctx context.Context, dst netip.Prefix) error
	// List returns the cloud's routes.
	List(ctx context.Context) ([]Route, error)
}
