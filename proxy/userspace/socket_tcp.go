package userspace

import (
	"context"
	"io"
	"net"
	"sync"

	"github.com/svclab/svclab/proxy"
)

// tcpSocket accepts connections on a Service port's proxy port and splices each to an
// endpoint.
type tcpSocket struct {
	ln   net.Listener
	name proxy.ServicePortName
	f    *forwarder
	wg   sync.WaitGroup
	// ctx ends dials in flight when the socket closes.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (s *tcpSocket) proxyPort() int { return portOf(s.ln.Addr()) }
func (s *tcpSocket) sessions() int  { return 0 }

func (s *tcpSocket) close(all bool) {
	s.mu.Lock()
	s.closed = true
	_ = s.ln.Close()
	s.cancel()
	if all {
		for c := range s.conns {
			_ = c.Close()
		}
	}
	s.mu.Unlock()
	if all {
		s.wg.Wait()
	}
}

// track registers c so close(true) can end it; false when the socket is already closed.
func (s *tcpSocket) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *tcpSocket) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *tcpSocket) serve() {
	defer s.wg.Done()
	for {
		in, err := s.ln.Accept()
		if err != nil {
			if isClosed(err) {
				return
			}
			s.f.log.Error("Accept failed", "servicePortName", s.name.String(), "err", err)
			continue
		}
		if !s.track(in) {
			_ = in.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(in)
			s.handle(in)
		}()
	}
}

func (s *tcpSocket) handle(in net.Conn) {
	defer in.Close()
	out, err := s.f.dialEndpoint(s.ctx, s.name, "tcp4", clientIP(in.RemoteAddr()))
	if err != nil {
		// Upstream closes the client connection when no endpoint answers.
		s.f.log.Info("No endpoint for connection, closing it", "servicePortName", s.name.String(), "client", in.RemoteAddr().String(), "err", err)
		return
	}
	if !s.track(out) {
		_ = out.Close()
		return
	}
	defer s.untrack(out)
	defer out.Close()
	s.f.log.Debug("Proxying connection", "servicePortName", s.name.String(), "client", in.RemoteAddr().String(), "endpoint", out.RemoteAddr().String())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); splice(out, in) }()
	go func() { defer wg.Done(); splice(in, out) }()
	wg.Wait()
}

// splice copies src to dst, then half-closes dst so the other side sees EOF while the
// reverse direction may still be sending.
func splice(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := dst.(closeWriter); ok {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
}
