package userspace

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// Listener opens the proxy's sockets; *net.ListenConfig implements it. Tests inject one
// that opens sockets inside a network namespace.
type Listener interface {
	Listen(ctx context.Context, network, address string) (net.Listener, error)
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
}

// Dialer opens the proxy's connections to endpoints; *net.Dialer implements it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options tunes a Proxier; the zero value is upstream's defaults.
type Options struct {
	// ListenIP is the address every per-Service listener binds. The zero value binds all
	// of the node's addresses (upstream's --bind-address 0.0.0.0); container portals then
	// use REDIRECT and host portals DNAT to the node's primary IP. A specific address makes
	// every portal DNAT to it.
	ListenIP netip.Addr
	// UDPIdleTimeout ends a UDP client's session after this long without traffic
	// (upstream's --udp-timeout, default 250ms).
	UDPIdleTimeout time.Duration
	// DialTimeouts are the connect attempts to endpoints, each to the next endpoint in
	// round robin, with its timeout (upstream: 250ms, 500ms, 1s, 2s).
	DialTimeouts []time.Duration
	// Listener opens the listeners (a net.ListenConfig by default).
	Listener Listener
	// Dialer connects to endpoints (a net.Dialer by default).
	Dialer Dialer
	// Now is the clock for session affinity (time.Now by default).
	Now func() time.Time
}

// DefaultUDPIdleTimeout is upstream kube-proxy's --udp-timeout default.
const DefaultUDPIdleTimeout = 250 * time.Millisecond

// defaultDialTimeouts are upstream's endpointDialTimeouts.
var defaultDialTimeouts = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 1 * time.Second, 2 * time.Second}

func (o Options) withDefaults() Options {
	if o.UDPIdleTimeout <= 0 {
		o.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	if len(o.DialTimeouts) == 0 {
		o.DialTimeouts = defaultDialTimeouts
	}
	if o.Listener == nil {
		o.Listener = &net.ListenConfig{}
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
