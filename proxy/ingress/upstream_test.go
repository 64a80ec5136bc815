package ingress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingBackend is a loopback server that counts the connections it accepted.
func countingBackend(t *testing.T, h http.HandlerFunc) (string, *atomic.Int32) {
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s.Listener.Addr().String(), &conns
}

// TestUpstreamResponses: bodiless requests through the upstream client, with keep-alive
// connections reused across responses of every framing.
func TestUpstreamResponses(t *testing.T) {
	_, eps, srv := setup(t, HandlerOptions{})
	addr, conns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/notmodified":
			w.WriteHeader(http.StatusNotModified)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	})
	eps.set("default/bar:80", addr)
	c := srv.Client()
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, "hello"},
		{"HEAD", "/", 200, ""},
		{"GET", "/chunked", 200, "ab"},
		{"GET", "/nocontent", 204, ""},
		{"OPTIONS", "/notmodified", 304, ""},
		{"GET", "/", 200, "hello"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		req.Host = "bar.example"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections to the backend, want 1 (keep-alive)", n)
	}
	// Connection: close from the backend: the connection is not pooled, the next request
	// dials.
	for _, path := range []string{"/close", "/close", "/"} {
		if status, _ := get(t, c, srv.URL+path, "bar.example"); status != 200 {
			t.Errorf("%s: %d", path, status)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections after two Connection: close responses, want 3", n)
	}
}

// TestUpstreamStaleConnection: a backend that closes each connection after one response,
// without saying so, costs a retry on a new connection, never an error.
func TestUpstreamStaleConnection(t *testing.T) {
	_, eps, srv := setup(t, HandlerOptions{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				body := fmt.Sprintf("conn %d", n)
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}()
		}
	}()
	eps.set("default/bar:80", l.Addr().String())
	for i := 1; i <= 5; i++ {
		status, body := get(t, srv.Client(), srv.URL+"/", "bar.example")
		if status != 200 || !strings.HasPrefix(body, "conn ") {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}
}

// TestUpstreamClientGone: a client that gives up cancels the upstream exchange, and the
// access log says 499 like nginx.
func TestUpstreamClientGone(t *testing.T) {
	var log lockedBuffer
	al := NewAccessLog(&log)
	_, eps, srv := setup(t, HandlerOptions{AccessLog: al})
	gone := make(chan struct{})
	addr, _ := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(gone)
	})
	eps.set("default/bar:80", addr)
	c := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Host = "bar.example"
	if _, err := c.Do(req); err == nil {
		t.Fatal("no timeout")
	}
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("the backend's request was not cancelled")
	}
	eventually(t, "the access log line", func() bool { _ = al.Flush(); return strings.Contains(log.String(), `"GET / HTTP/1.1" 499 `) })
}

// TestUpstreamHeaderLimit: a backend's response headers above 1 MiB are a 502.
func TestUpstreamHeaderLimit(t *testing.T) {
	_, eps, srv := setup(t, HandlerOptions{})
	addr, _ := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 40 {
			w.Header().Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("x", 32<<10))
		}
		io.WriteString(w, "ok")
	})
	eps.set("default/bar:80", addr)
	if status, _ := get(t, srv.Client(), srv.URL+"/", "bar.example"); status != http.StatusBadGateway {
		t.Errorf("1.25 MiB of headers: %d, want 502", status)
	}
}

// TestUpstreamNotPooledAfterClose: a connection in use while CloseIdleConnections runs (an
// endpoint left) is closed after its response instead of pooled.
func TestUpstreamNotPooledAfterClose(t *testing.T) {
	addr, conns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	u := newUpstream(time.Second, time.Second)
	defer u.CloseIdleConnections()
	get := func(closeMidway bool) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		resp, err := u.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if closeMidway {
			u.CloseIdleConnections()
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get(false)
	get(false)
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for two requests, want 1", n)
	}
	get(true)
	get(false)
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the connection in use during CloseIdleConnections was pooled again", n)
	}
}

func TestUpstreamPeerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn := func() (*upConn, net.Conn) {
		a, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		b, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return &upConn{conn: a, br: bufio.NewReader(a)}, b
	}
	c, backend := conn()
	if c.peerClosed() {
		t.Error("an open idle connection counts as closed")
	}
	_, _ = backend.Write([]byte("x"))
	time.Sleep(20 * time.Millisecond)
	if !c.peerClosed() {
		t.Error("an idle connection with unasked-for bytes counts as reusable")
	}
	c, backend = conn()
	_ = backend.Close()
	time.Sleep(20 * time.Millisecond)
	if !c.peerClosed() {
		t.Error("a connection the backend closed counts as open")
	}
	if !gone(&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EHOSTUNREACH)}) || gone(io.EOF) {
		t.Error("gone: host unreachable is an endpoint that is gone, EOF is not")
	}
}
