package userspace

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/svclab/svclab/proxy"
)

// udpSocket proxies datagrams on a Service port's proxy port: each client address gets
// its own connected socket to an endpoint, which lives until it is idle for the UDP
// timeout (upstream's ClientCache).
type udpSocket struct {
	pc   net.PacketConn
	name proxy.ServicePortName
	f    *forwarder
	wg   sync.WaitGroup
	// ctx ends dials in flight when the socket closes.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	clients map[string]*udpSession
	closed  bool
}

// udpSession is one client's connection to its endpoint.
type udpSession struct {
	conn net.Conn
}

func (s *udpSocket) proxyPort() int { return portOf(s.pc.LocalAddr()) }

func (s *udpSocket) sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

func (s *udpSocket) close(all bool) {
	s.mu.Lock()
	s.closed = true
	_ = s.pc.Close()
	s.cancel()
	if all {
		for _, c := range s.clients {
			_ = c.conn.Close()
		}
	}
	s.mu.Unlock()
	if all {
		s.wg.Wait()
	}
}

func (s *udpSocket) serve() {
	defer s.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, client, err := s.pc.ReadFrom(buf)
		if err != nil {
			if isClosed(err) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.f.log.Error("UDP read failed", "servicePortName", s.name.String(), "err", err)
			continue
		}
		sess, err := s.session(client)
		if err != nil {
			s.f.log.Info("No endpoint for UDP client, dropping datagram", "servicePortName", s.name.String(), "client", client.String(), "err", err)
			continue
		}
		_ = sess.conn.SetDeadline(time.Now().Add(s.f.udpTimeout))
		if _, err := sess.conn.Write(buf[:n]); err != nil {
			s.f.log.Debug("UDP write to endpoint failed", "servicePortName", s.name.String(), "err", err)
		}
	}
}

// session returns client's session, connecting a new one if needed.
func (s *udpSocket) session(client net.Addr) (*udpSession, error) {
	key := client.String()
	s.mu.Lock()
	sess := s.clients[key]
	s.mu.Unlock()
	if sess != nil {
		return sess, nil
	}
	conn, err := s.f.dialEndpoint(s.ctx, s.name, "udp4", clientIP(client))
	if err != nil {
		return nil, err
	}
	sess = &udpSession{conn: conn}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return nil, net.ErrClosed
	}
	s.clients[key] = sess
	s.wg.Add(1)
	s.mu.Unlock()
	go s.replies(client, sess)
	return sess, nil
}

// replies copies the endpoint's answers back to the client until the session is idle.
func (s *udpSocket) replies(client net.Addr, sess *udpSession) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		if s.clients[client.String()] == sess {
			delete(s.clients, client.String())
		}
		s.mu.Unlock()
		_ = sess.conn.Close()
	}()
	buf := make([]byte, 64*1024)
	for {
		_ = sess.conn.SetReadDeadline(time.Now().Add(s.f.udpTimeout))
		n, err := sess.conn.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) && !isClosed(err) {
				s.f.log.Debug("UDP session ended", "servicePortName", s.name.String(), "client", client.String(), "err", err)
			}
			return
		}
		if _, err := s.pc.WriteTo(buf[:n], client); err != nil {
			if isClosed(err) {
				return
			}
			s.f.log.Debug("UDP write to client failed", "servicePortName", s.name.String(), "err", err)
		}
	}
}
