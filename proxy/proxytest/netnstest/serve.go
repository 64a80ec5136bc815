package netnstest

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// ContextDialer opens connections; *net.Dialer and *NS implement it.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// ServeTCP answers every connection accepted on ln with reply(conn) and closes the
// connection. ln is closed in t.Cleanup, which also ends the accept loop.
func ServeTCP(t testing.TB, ln net.Listener, reply func(net.Conn) string) {
	t.Helper()
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, reply(c))
			_ = c.Close()
		}
	}()
}

// Text is a ServeTCP reply that always answers s.
func Text(s string) func(net.Conn) string {
	return func(net.Conn) string { return s }
}

// EchoUDP answers every datagram read from pc with prefix followed by the datagram. pc is
// closed in t.Cleanup, which also ends the read loop.
func EchoUDP(t testing.TB, pc net.PacketConn, prefix string) {
	t.Helper()
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte(prefix), buf[:n]...), from)
		}
	}()
}

// Get connects to addr through d, allowing timeout for the connection and again for the
// reply, and returns everything the server wrote before closing.
func Get(ctx context.Context, d ContextDialer, network, addr string, timeout time.Duration) (string, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(dctx, network, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	return string(b), err
}
