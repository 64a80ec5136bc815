// Package userspacetest is a fake socket layer for the userspace proxy's unit tests: its
// listeners get predictable ports and carry no traffic.
package userspacetest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// Listener hands out fake listeners on ports FirstPort, FirstPort+1, ... in the order they
// are opened (a real kernel picks random free ports), and records what was opened.
type Listener struct {
	// FirstPort is the first port handed out (36000 when zero).
	FirstPort int

	mu     sync.Mutex
	next   int
	Opened []string // "tcp4 127.0.0.1:36000"
}

// Listen implements userspace.Listener.
func (l *Listener) Listen(_ context.Context, network, address string) (net.Listener, error) {
	a, err := l.addr(network, address)
	if err != nil {
		return nil, err
	}
	return &stubListener{addr: a, done: make(chan struct{})}, nil
}

// ListenPacket implements userspace.Listener.
func (l *Listener) ListenPacket(_ context.Context, network, address string) (net.PacketConn, error) {
	a, err := l.addr(network, address)
	if err != nil {
		return nil, err
	}
	return &stubPacketConn{addr: a, done: make(chan struct{})}, nil
}

func (l *Listener) addr(network, address string) (stubAddr, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return stubAddr{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == 0 {
		l.next = l.FirstPort
		if l.next == 0 {
			l.next = 36000
		}
	}
	a := stubAddr{network: network, s: net.JoinHostPort(host, fmt.Sprint(l.next))}
	l.next++
	l.Opened = append(l.Opened, network+" "+a.s)
	return a, nil
}

type stubAddr struct{ network, s string }

func (a stubAddr) Network() string { return a.network }
func (a stubAddr) String() string  { return a.s }

// stubListener accepts nothing until it is closed.
type stubListener struct {
	addr stubAddr
	once sync.Once
	done chan struct{}
}

func (s *stubListener) Accept() (net.Conn, error) {
	<-s.done
	return nil, net.ErrClosed
}

func (s *stubListener) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *stubListener) Addr() net.Addr { return s.addr }

// stubPacketConn receives nothing until it is closed.
type stubPacketConn struct {
	addr stubAddr
	once sync.Once
	done chan struct{}
}

func (s *stubPacketConn) ReadFrom([]byte) (int, net.Addr, error) {
	<-s.done
	return 0, nil, net.ErrClosed
}

func (s *stubPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }

func (s *stubPacketConn) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *stubPacketConn) LocalAddr() net.Addr              { return s.addr }
func (s *stubPacketConn) SetDeadline(time.Time) error      { return nil }
func (s *stubPacketConn) SetReadDeadline(time.Time) error  { return nil }
func (s *stubPacketConn) SetWriteDeadline(time.Time) error { return nil }
