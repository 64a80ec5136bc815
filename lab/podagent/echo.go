package podagent

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tcpIdleTimeout closes TCP echo connections that stay silent this long.
const tcpIdleTimeout = 5 * time.Minute

// maxLine caps one TCP echo line or UDP datagram.
const maxLine = 64 << 10

// echoReply is the line both echo protocols send for one received line.
func echoReply(id Identity, client, line string) string {
	return id.Line(client) + " echo=" + strings.TrimRight(line, "\r\n") + "\n"
}

// tcpEcho serves the line protocol: every received line is answered with echoReply.
type tcpEcho struct {
	id    Identity
	ln    net.Listener
	log   *slog.Logger
	alog  *accessLogger
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	// closing stops connections from waiting for another line once shutdown has begun.
	closing atomic.Bool
}

func newTCPEcho(id Identity, ln net.Listener, log *slog.Logger, alog *accessLogger) *tcpEcho {
	return &tcpEcho{id: id, ln: ln, log: log, alog: alog, conns: map[net.Conn]struct{}{}}
}

// serve accepts connections until the listener is closed.
func (e *tcpEcho) serve() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.log.Warn("tcp echo accept failed", "err", err)
			}
			return
		}
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.mu.Unlock()
		e.wg.Add(1)
		go e.handle(c)
	}
}

func (e *tcpEcho) handle(c net.Conn) {
	defer e.wg.Done()
	defer func() {
		e.mu.Lock()
		delete(e.conns, c)
		e.mu.Unlock()
		_ = c.Close()
	}()
	client := c.RemoteAddr().String()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), maxLine)
	for {
		if e.closing.Load() {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(tcpIdleTimeout))
		if !sc.Scan() {
			return
		}
		line := sc.Text()
		e.alog.printf("tcp %s %q", client, line)
		if _, err := c.Write([]byte(echoReply(e.id, client, line))); err != nil {
			return
		}
	}
}

// shutdown stops accepting, lets each open connection finish the line it is answering (until
// ctx is done), then closes them all.
func (e *tcpEcho) shutdown(ctx context.Context) {
	_ = e.ln.Close()
	e.closing.Store(true)
	e.mu.Lock()
	for c := range e.conns {
		// Wake readers blocked waiting for the next line; a reply being written still completes.
		_ = c.SetReadDeadline(time.Now())
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	e.mu.Lock()
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	<-done
}

// serveUDP answers every datagram with echoReply until pc is closed.
func serveUDP(id Identity, pc net.PacketConn, log *slog.Logger, alog *accessLogger) {
	buf := make([]byte, maxLine)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				log.Warn("udp echo read failed", "err", err)
			}
			return
		}
		line := string(buf[:n])
		alog.printf("udp %s %q", addr, strings.TrimRight(line, "\r\n"))
		if _, err := pc.WriteTo([]byte(echoReply(id, addr.String(), line)), addr); err != nil {
			log.Debug("udp echo write failed", "client", addr.String(), "err", err)
		}
	}
}
