package ingress

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// TestFastPathSameAsReverseProxy: a GET through the fast path reaches the backend with the
// same headers as one through httputil.ReverseProxy (a query with ';' takes that path),
// and the client gets the same response headers, body and trailers back.
func TestFastPathSameAsReverseProxy(t *testing.T) {
	var mu sync.Mutex
	got := map[string]http.Header{} // by RequestURI
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.RequestURI] = r.Header.Clone()
		mu.Unlock()
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "dropped")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
		w.Header().Set("X-Sum", "42")
	}))
	defer be.Close()
	eps := &staticEndpoints{m: map[string][]string{"default/web:80": {be.Listener.Addr().String()}}}
	h := NewHandler(eps, HandlerOptions{})
	defer h.CloseIdleConnections()
	h.SetTable(NewTable([]*networkingv1.Ingress{ing("web", 0, map[string][]string{"": {"Prefix / web:80"}})}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	type result struct {
		status  int
		header  http.Header
		body    string
		trailer http.Header
	}
	do := func(uri string) result {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+uri, nil)
		req.Host = "app.example"
		req.Header.Set("X-Forwarded-For", "192.0.2.1")
		req.Header.Set("X-Forwarded-Host", "spoofed")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Forwarded", "for=192.0.2.1")
		req.Header.Set("Connection", "X-Private")
		req.Header.Set("X-Private", "hop")
		req.Header.Set("Proxy-Authorization", "secret")
		req.Header.Set("Te", "trailers")
		req.Header.Set("X-Request-ID", "req-1")
		req.Header.Add("Accept", "text/plain")
		req.Header.Add("Accept", "*/*")
		req.Header.Set("User-Agent", "fastpath-test")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		return result{resp.StatusCode, resp.Header, string(b), resp.Trailer}
	}
	fast, slow := do("/p?x=1"), do("/p?x=1;y=2")
	if fast.body != "body of /p" || fast.status != 200 {
		t.Fatalf("fast path: %d %q", fast.status, fast.body)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Errorf("responses differ:\nfast %+v\nslow %+v", fast, slow)
	}
	mu.Lock()
	defer mu.Unlock()
	fh, sh := got["/p?x=1"], got["/p"] // the ReverseProxy drops the pair with the ;
	if fh == nil || sh == nil {
		t.Fatalf("backend saw %v", got)
	}
	if !reflect.DeepEqual(fh, sh) {
		t.Errorf("upstream request headers differ:\nfast %v\nslow %v", fh, sh)
	}
	if v := fh.Get("X-Forwarded-For"); v != "192.0.2.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", v)
	}
	if fh.Get("X-Private") != "" || fh.Get("Forwarded") != "" || fh.Get("X-Forwarded-Host") != "app.example" {
		t.Errorf("hop-by-hop or forwarding headers passed on: %v", fh)
	}
}

// TestForwardWrite is the request head the fast path writes, byte for byte but for the
// order of the client's headers.
func TestForwardWrite(t *testing.T) {
	in := httptest.NewRequest(http.MethodGet, "/a%2Fb?q=1", nil)
	in.Host = "web.example"
	in.RemoteAddr = "198.51.100.7:5555"
	in.Header.Set("Accept", "*/*")
	in.Header.Set("Connection", "keep-alive, X-Drop")
	in.Header.Set("X-Drop", "1")
	in.Header.Set("X-Evil", "a\rb")
	var sb strings.Builder
	bw := bufio.NewWriter(&sb)
	if err := (&forward{in: in, id: "abc"}).write(bw, "10.0.0.1:80"); err != nil {
		t.Fatal(err)
	}
	_ = bw.Flush()
	lines := strings.Split(sb.String(), "\r\n")
	want := []string{"GET /a%2Fb?q=1 HTTP/1.1", "Host: web.example"}
	if !reflect.DeepEqual(lines[:2], want) {
		t.Errorf("head %q, want %q", lines[:2], want)
	}
	rest := map[string]bool{}
	for _, l := range lines[2:] {
		rest[l] = true
	}
	for _, l := range []string{"Accept: */*", "X-Evil: a b", "X-Forwarded-For: 198.51.100.7", "X-Forwarded-Host: web.example",
		"X-Forwarded-Proto: http", "X-Request-Id: abc", ""} {
		if !rest[l] {
			t.Errorf("missing %q in %q", l, sb.String())
		}
	}
	if strings.Contains(sb.String(), "X-Drop") || strings.Contains(sb.String(), "Connection") {
		t.Errorf("hop-by-hop header written: %q", sb.String())
	}
	if !strings.HasSuffix(sb.String(), "\r\n\r\n") {
		t.Errorf("head not terminated: %q", sb.String())
	}
}
