package sidecar

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// app is an upstream that echoes the headers the sidecar added.
func app(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "host="+r.Host+" sidecar="+r.Header.Get(Header)+" id="+r.Header.Get(RequestIDHeader)+" xff="+r.Header.Get("X-Forwarded-For")+"\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProxyAddsHeadersLogsAndCounts(t *testing.T) {
	up := app(t)
	var log bytes.Buffer
	s, err := New(Options{Upstream: up.URL, Name: "web-1", AccessLog: &log})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://web.example/echo?x=1", nil)
	req.RemoteAddr = "10.244.1.7:41000"
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != 200 || rec.Header().Get(Header) != "web-1" {
		t.Fatalf("status %d, %s: %q", rec.Code, Header, rec.Header().Get(Header))
	}
	for _, want := range []string{"host=web.example", "sidecar=web-1", "xff=10.244.1.7"} {
		if !strings.Contains(body, want) {
			t.Errorf("the app saw %q, want %q", body, want)
		}
	}
	if strings.Contains(body, "id= ") {
		t.Errorf("no request ID reached the app: %q", body)
	}
	line := log.String()
	for _, want := range []string{"sidecar=web-1", "client=10.244.1.7:41000", `"GET /echo?x=1 HTTP/1.1" 200`, "request_id="} {
		if !strings.Contains(line, want) {
			t.Errorf("access log %q lacks %q", line, want)
		}
	}
	var stats bytes.Buffer
	s.Stats().WriteText(&stats)
	if !strings.Contains(stats.String(), `sidecar_requests_total{code="200"} 1`) {
		t.Errorf("stats:\n%s", stats.String())
	}
}

func TestKeepsClientRequestID(t *testing.T) {
	s, err := New(Options{Upstream: app(t).URL})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(RequestIDHeader, "abc123")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), "id=abc123") {
		t.Errorf("the client's request ID was replaced: %q", rec.Body.String())
	}
}

func TestUnreachableAppIsRetriedThen502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	s, err := New(Options{Upstream: "http://" + addr, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", rec.Code)
	}
	var stats bytes.Buffer
	s.Stats().WriteText(&stats)
	for _, want := range []string{"sidecar_retries_total 2", "sidecar_upstream_errors_total 1", `sidecar_requests_total{code="502"} 1`} {
		if !strings.Contains(stats.String(), want) {
			t.Errorf("stats lack %q:\n%s", want, stats.String())
		}
	}
}

func TestAdminStats(t *testing.T) {
	s, err := New(Options{Upstream: app(t).URL})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/stats", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "# TYPE sidecar_requests_total counter") {
		t.Errorf("/stats: %d %q", rec.Code, rec.Body.String())
	}
}

func TestBadUpstream(t *testing.T) {
	for _, u := range []string{"127.0.0.1:80", "https://x", "http://"} {
		if _, err := New(Options{Upstream: u}); err == nil || !strings.Contains(err.Error(), "want http://HOST:PORT") {
			t.Errorf("upstream %q: %v", u, err)
		}
	}
}
