package userspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/proxy"
)

// socket is one Service port's listener and the connections it proxies (upstream's
// ProxySocket).
type socket interface {
	// proxyPort is the port the kernel chose for the listener.
	proxyPort() int
	// sessions counts live UDP client sessions (0 for TCP).
	sessions() int
	// close stops listening; with all it also ends the connections in flight.
	close(all bool)
}

// forwarder is what sockets share: the balancer and how to reach endpoints.
type forwarder struct {
	lb           *balancer
	dialer       Dialer
	dialTimeouts []time.Duration
	udpTimeout   time.Duration
	log          *slog.Logger
}

// openSocket starts proxying name on a new listener at addr (port 0: the kernel picks).
func openSocket(ctx context.Context, l Listener, f *forwarder, name proxy.ServicePortName, protocol corev1.Protocol, addr string) (socket, error) {
	switch protocol {
	case corev1.ProtocolTCP:
		ln, err := l.Listen(ctx, "tcp4", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s/tcp for %s: %w", addr, name, err)
		}
		s := &tcpSocket{ln: ln, name: name, f: f, conns: map[net.Conn]struct{}{}}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.wg.Add(1)
		go s.serve()
		return s, nil
	case corev1.ProtocolUDP:
		pc, err := l.ListenPacket(ctx, "udp4", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s/udp for %s: %w", addr, name, err)
		}
		s := &udpSocket{pc: pc, name: name, f: f, clients: map[string]*udpSession{}}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.wg.Add(1)
		go s.serve()
		return s, nil
	default:
		return nil, fmt.Errorf("service port %s: protocol %s is not supported by the userspace proxy (use TCP or UDP)", name, protocol)
	}
}

// dialEndpoint connects to the next endpoint, moving on in round robin after a failure
// (upstream's tryConnect): each attempt uses the next of f.dialTimeouts.
func (f *forwarder) dialEndpoint(ctx context.Context, name proxy.ServicePortName, network string, client netip.Addr) (net.Conn, error) {
	var errs []error
	for i, timeout := range f.dialTimeouts {
		ep, err := f.lb.next(name, client, i > 0)
		if err != nil {
			return nil, fmt.Errorf("pick an endpoint for %s: %w", name, err)
		}
		dctx, cancel := context.WithTimeout(ctx, timeout)
		conn, err := f.dialer.DialContext(dctx, network, ep.String())
		cancel()
		if err == nil {
			return conn, nil
		}
		f.log.Debug("Dial endpoint failed, trying the next one", "servicePortName", name.String(), "endpoint", ep.String(), "attempt", i+1, "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("connect to an endpoint of %s: %w", name, errors.Join(errs...))
}

// clientIP is the address part of a net.Addr (zero when it has none).
func clientIP(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// portOf is the port of a listener's address.
func portOf(a net.Addr) int {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return 0
	}
	return int(ap.Port())
}

// isClosed reports the error a closed listener returns.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
