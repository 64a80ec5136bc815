package ingress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// upstream is a small HTTP/1.1 client with keep-alive connections per endpoint, for the
// requests that make up most ingress traffic: GET, HEAD and OPTIONS without a body, an
// Upgrade or an Expect header (the balancer sends every other request through an
// http.Transport). It writes the request and reads the response in the calling goroutine:
// http.Transport hands each exchange to a writer and a reader goroutine per connection and
// back, three goroutine switches per request that cost about as much as the proxying itself
// on a busy node. With no body to send, the request can be written whole before the
// response is read, and resent on a fresh connection when a pooled one turns out to be
// closed by the backend (the methods are idempotent). The handler's fast path (serveFast)
// calls do directly, with a forward that writes the request from the client's.
type upstream struct {
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	headerTimeout time.Duration // until the response headers; 0: none
	idleTimeout   time.Duration // a pooled connection idle longer is closed
	maxIdle       int           // pooled connections per endpoint

	mu   sync.Mutex
	idle map[string][]*upConn // by endpoint, most recently used last
	gen  uint64               // CloseIdleConnections count: older connections are not pooled again
}

func newUpstream(dialTimeout, headerTimeout time.Duration) *upstream {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &upstream{dial: d.DialContext, headerTimeout: headerTimeout, idleTimeout: 60 * time.Second, maxIdle: 128,
		idle: map[string][]*upConn{}}
}

// handles reports whether req can go through the upstream client.
func (u *upstream) handles(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	return (req.Body == nil || req.Body == http.NoBody) && req.Header["Upgrade"] == nil && req.Header["Expect"] == nil &&
		len(req.Trailer) == 0 && len(req.TransferEncoding) == 0
}

// maxResponseHeaderBytes bounds a response's headers, as http.Transport's
// MaxResponseHeaderBytes does (its default is 10 MiB; nginx's proxy_buffer_size is 4-8 KiB).
const maxResponseHeaderBytes = 1 << 20

var errHeaderTooLarge = errors.New("upstream response headers exceed 1 MiB")

// limitedConn is the reader under a connection's bufio.Reader: while left is positive
// reads are counted against it (the response headers), once it is negative they are not.
type limitedConn struct {
	net.Conn
	left int64
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.left == 0 {
		return 0, errHeaderTooLarge
	}
	if l.left > 0 && int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.Conn.Read(p)
	if l.left > 0 {
		l.left -= int64(n)
	}
	return n, err
}

// upConn is one keep-alive connection to an endpoint.
type upConn struct {
	u     *upstream
	addr  string
	conn  net.Conn
	lr    *limitedConn
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // idle since
	gen   uint64    // the upstream's gen when the connection was handed out
}

func (c *upConn) close() { _ = c.conn.Close() }

// peerClosed reports whether an idle connection was closed by the backend (or has bytes
// nobody asked for): a non-blocking peek at the socket finds EOF (or data) instead of
// nothing. Connections that are not plain sockets are trusted.
func (c *upConn) peerClosed() bool {
	if c.br.Buffered() > 0 {
		return true
	}
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n > 0 || (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN && err != syscall.EINTR)
		return true // one look, never wait
	})
	return closed
}

// get returns a pooled connection to addr (reused) or a new one.
func (u *upstream) get(ctx context.Context, addr string, fresh bool, now time.Time) (*upConn, bool, error) {
	if !fresh {
		u.mu.Lock()
		for list := u.idle[addr]; len(list) > 0; list = u.idle[addr] {
			c := list[len(list)-1]
			list[len(list)-1] = nil
			u.idle[addr] = list[:len(list)-1]
			if now.Sub(c.since) < u.idleTimeout {
				c.gen = u.gen
				u.mu.Unlock()
				if c.peerClosed() {
					// The backend closed it while idle (a pod shutting down): sending on it
					// would fail, or hang when the pod's network is already gone.
					c.close()
					u.mu.Lock()
					continue
				}
				return c, true, nil
			}
			c.close()
		}
		u.mu.Unlock()
	}
	u.mu.Lock()
	gen := u.gen
	u.mu.Unlock()
	conn, err := u.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	lr := &limitedConn{Conn: conn, left: -1}
	return &upConn{u: u, addr: addr, conn: conn, lr: lr, br: bufio.NewReaderSize(lr, 4096), bw: bufio.NewWriterSize(conn, 4096), gen: gen}, false, nil
}

// put pools c for the next request to its endpoint, unless CloseIdleConnections ran while
// c was in use (its endpoint may have left: a pod that is gone never resets the connection).
func (u *upstream) put(c *upConn) {
	u.mu.Lock()
	if list := u.idle[c.addr]; len(list) < u.maxIdle && c.gen == u.gen {
		u.idle[c.addr] = append(list, c)
		u.mu.Unlock()
		return
	}
	u.mu.Unlock()
	c.close()
}

// CloseIdleConnections closes the pooled connections.
func (u *upstream) CloseIdleConnections() {
	u.mu.Lock()
	idle := u.idle
	u.idle = map[string][]*upConn{}
	u.gen++
	u.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.close()
		}
	}
}

// RoundTrip sends req to req.URL.Host. A pooled connection that fails before the response
// (the backend closed it while idle) is replaced by a new one once.
func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	return u.do(req, req.URL.Host, nil, time.Now())
}

// do sends req to addr, written by fwd (nil: as req.Write writes it), and reads the
// response headers; now is the current time (the response header deadline counts from it).
func (u *upstream) do(req *http.Request, addr string, fwd *forward, now time.Time) (*http.Response, error) {
	ctx := req.Context()
	for fresh := false; ; fresh = true {
		c, reused, err := u.get(ctx, addr, fresh, now)
		if err != nil {
			return nil, err
		}
		resp, err := c.roundTrip(ctx, req, fwd, now)
		if err == nil {
			return resp, nil
		}
		c.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, addr, ctx.Err())
		}
		if !reused || isTimeout(err) {
			return nil, err
		}
		if gone(err) {
			// The endpoint's host is unreachable: its pod is gone. Another endpoint may
			// answer; dialling this one again would only wait for the connect timeout.
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}
	}
}

// aLongTimeAgo is a deadline in the past: setting it interrupts blocked reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

func (c *upConn) roundTrip(ctx context.Context, req *http.Request, fwd *forward, now time.Time) (*http.Response, error) {
	if t := c.u.headerTimeout; t > 0 {
		_ = c.conn.SetDeadline(now.Add(t))
	}
	// A cancelled request (the client went away) interrupts the exchange.
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(aLongTimeAgo) })
	resp, err := c.exchange(req, fwd)
	if err != nil {
		stop()
		return nil, err
	}
	if c.u.headerTimeout > 0 {
		_ = c.conn.SetDeadline(time.Time{})
	}
	c.since = now // idle since about now, once the response is read
	// A forwarded request never asks the backend to close (the client's Connection header
	// is hop-by-hop), so only the backend's answer decides.
	reuse := !resp.Close && (fwd != nil || !req.Close)
	if resp.Body == http.NoBody {
		if stop() && reuse {
			c.u.put(c)
		} else {
			c.close()
		}
		return resp, nil
	}
	resp.Body = &upBody{rc: resp.Body, c: c, stop: stop, reuse: reuse}
	return resp, nil
}

// exchange writes req and reads the response headers, skipping 1xx informational responses.
func (c *upConn) exchange(req *http.Request, fwd *forward) (*http.Response, error) {
	var err error
	if fwd != nil {
		err = fwd.write(c.bw, c.addr)
	} else {
		err = req.Write(c.bw)
	}
	if err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	c.lr.left = maxResponseHeaderBytes - int64(c.br.Buffered())
	defer func() { c.lr.left = -1 }()
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("upstream switched protocols without an Upgrade request")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue
		}
		return resp, nil
	}
}

// upBody returns its connection to the pool once the body is read to the end.
type upBody struct {
	rc    io.ReadCloser
	c     *upConn
	stop  func() bool
	reuse bool
	done  bool
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

// Close before the end of the body drops the connection: what is left of the response
// would be read as the next one's.
func (b *upBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

func (b *upBody) finish(complete bool) {
	b.done = true
	if b.stop() && complete && b.reuse {
		b.c.u.put(b.c)
		return
	}
	b.c.close()
}

// gone reports whether err says the endpoint's address is unreachable (the pod's network
// has been torn down).
func gone(err error) bool {
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}
