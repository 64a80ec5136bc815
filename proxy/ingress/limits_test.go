package ingress

import (
	"bytes"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProxyUpstreamTimeout: a backend slower than UpstreamTimeout to send its headers is 504.
func TestProxyUpstreamTimeout(t *testing.T) {
	_, eps, srv := setup(t, HandlerOptions{UpstreamTimeout: 50 * time.Millisecond})
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go slow.Serve(l)
	t.Cleanup(func() { slow.Close() })
	eps.set("default/bar:80", l.Addr().String())
	if status, _ := get(t, srv.Client(), srv.URL+"/", "bar.example"); status != http.StatusGatewayTimeout {
		t.Errorf("slow upstream: %d, want 504", status)
	}
}

// TestServerHeaderLimit: request headers above 64 KiB are refused with 431 by the
// listener's server, before the proxy sees them.
func TestServerHeaderLimit(t *testing.T) {
	h, eps, _ := setup(t, HandlerOptions{})
	eps.set("default/bar:80", backend(t, "bar"))
	s := newServer(h)
	if s.ReadHeaderTimeout != 10*time.Second || s.IdleTimeout != 75*time.Second {
		t.Errorf("timeouts: header %v idle %v", s.ReadHeaderTimeout, s.IdleTimeout)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	c := &http.Client{Timeout: 2 * time.Second}
	req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/", nil)
	req.Host = "bar.example"
	req.Header.Set("X-Big", strings.Repeat("x", 100<<10))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB header: %d, want 431", resp.StatusCode)
	}
}

// TestProxyRequestID: a client's X-Request-ID is passed on; otherwise one is generated (32
// hex digits, as ingress-nginx's $req_id) and logged.
func TestProxyRequestID(t *testing.T) {
	var log bytes.Buffer
	al := NewAccessLog(&log)
	_, eps, srv := setup(t, HandlerOptions{AccessLog: al})
	echo := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("X-Request-ID")))
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go echo.Serve(l)
	t.Cleanup(func() { echo.Close() })
	eps.set("default/bar:80", l.Addr().String())
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Host = "bar.example"
	req.Header.Set("X-Request-ID", "client-chosen")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if b.String() != "client-chosen" {
		t.Errorf("passed on %q", b.String())
	}
	_, id1 := get(t, srv.Client(), srv.URL+"/", "bar.example")
	_, id2 := get(t, srv.Client(), srv.URL+"/", "bar.example")
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	if !hex32.MatchString(id1) || !hex32.MatchString(id2) || id1 == id2 {
		t.Errorf("generated ids %q %q", id1, id2)
	}
	if err := al.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "request_id=client-chosen ") || !strings.Contains(log.String(), "request_id="+id2+" ") {
		t.Errorf("access log:\n%s", log.String())
	}
}
