package ingress

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	networkingv1 "k8s.io/api/networking/v1"
)

// staticEndpoints is an Endpoints fake: backend String() → addresses.
type staticEndpoints struct {
	mu sync.Mutex
	m  map[string][]string
}

func (s *staticEndpoints) Ready(b Backend) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[b.String()]
}

func (s *staticEndpoints) set(b string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[b] = addrs
}

// backend is a loopback server answering "name" and echoing the forwarding headers.
func backend(t *testing.T, name string) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			_, msg, _ := c.ReadMessage()
			_ = c.WriteMessage(websocket.TextMessage, append([]byte(name+":"), msg...))
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s host=%s xff=%s proto=%s xhost=%s id=%t body=%d", name, r.Host,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-Request-ID") != "", len(body))
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func get(t *testing.T, c *http.Client, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func setup(t *testing.T, o HandlerOptions) (*Handler, *staticEndpoints, *httptest.Server) {
	eps := &staticEndpoints{m: map[string][]string{}}
	h := NewHandler(eps, o)
	h.SetTable(NewTable([]*networkingv1.Ingress{ing("fanout", 0, map[string][]string{
		"foo.example": {"Prefix /app1 app1:80", "Prefix /app2 app2:http"},
		"bar.example": {"Prefix / bar:80"},
		"":            {"Prefix /empty empty:80"},
	})}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, eps, srv
}

func TestProxyRoutingAndHeaders(t *testing.T) {
	var log bytes.Buffer
	reg := prometheus.NewRegistry()
	al := NewAccessLog(&log)
	_, eps, srv := setup(t, HandlerOptions{AccessLog: al, Metrics: NewMetrics(reg)})
	eps.set("default/app1:80", backend(t, "app1"))
	eps.set("default/app2:http", backend(t, "app2"))
	eps.set("default/bar:80", backend(t, "bar"))
	c := srv.Client()
	for _, tc := range []struct {
		host, path string
		status     int
		prefix     string
	}{
		{"foo.example", "/app1/x", 200, "app1 host=foo.example xff=127.0.0.1 proto=http xhost=foo.example id=true"},
		{"foo.example", "/app2", 200, "app2 "},
		{"bar.example:8080", "/anything", 200, "bar host=bar.example:8080"},
		{"foo.example", "/app3", 404, "default backend - 404"},
		{"foo.example", "/empty", 503, "503 Service Temporarily Unavailable: no ready endpoints for default/empty:80"},
	} {
		status, body := get(t, c, srv.URL+tc.path, tc.host)
		if status != tc.status || !strings.HasPrefix(body, tc.prefix) {
			t.Errorf("%s%s: %d %q, want %d %q…", tc.host, tc.path, status, body, tc.status, tc.prefix)
		}
	}
	if err := al.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[0], `"GET /app1/x HTTP/1.1" 200 `) || !strings.Contains(lines[0], "ingress=default/fanout") ||
		!strings.Contains(lines[3], `" 404 `) || !strings.Contains(lines[3], "upstream=- upstream_time=-") {
		t.Errorf("access log:\n%s", log.String())
	}
	if n := testutil.ToFloat64(requestsCounter(reg, "foo.example", "/app1", "200")); n != 1 {
		t.Errorf("requests_total{foo.example,/app1,200} = %v", n)
	}
}

// requestsCounter reads one requests_total series from reg.
func requestsCounter(reg *prometheus.Registry, host, path, status string) prometheus.Collector {
	mfs, _ := reg.Gather()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != "svclab_ingress_requests_total" {
			continue
		}
		for _, m := range mf.Metric {
			l := map[string]string{}
			for _, lp := range m.Label {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["host"] == host && l["path"] == path && l["status"] == status {
				c.Add(m.Counter.GetValue())
			}
		}
	}
	return c
}

func TestProxyRoundRobinAndRetry(t *testing.T) {
	_, eps, srv := setup(t, HandlerOptions{})
	a, b, dead := backend(t, "a"), backend(t, "b"), deadAddr(t)
	eps.set("default/bar:80", a, dead, b)
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		status, body := get(t, srv.Client(), srv.URL+"/", "bar.example")
		if status != 200 {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
		seen[strings.Fields(body)[0]]++
	}
	// The dead endpoint's turns go to the next one (b): a gets 10, b 20.
	if seen["a"] != 10 || seen["b"] != 20 {
		t.Errorf("spread %v, want a:10 b:20", seen)
	}
	// A POST body survives the failed connection attempt.
	eps.set("default/bar:80", dead, a)
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("hello"))
		req.Host = "bar.example"
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasSuffix(string(body), "body=5") {
			t.Errorf("POST: %d %s", resp.StatusCode, body)
		}
	}
	// Only dead endpoints: 502.
	eps.set("default/bar:80", dead)
	if status, _ := get(t, srv.Client(), srv.URL+"/", "bar.example"); status != http.StatusBadGateway {
		t.Errorf("all endpoints dead: %d, want 502", status)
	}
}

func TestProxyBodyLimit(t *testing.T) {
	_, eps, srv := setup(t, HandlerOptions{MaxBodyBytes: 10})
	eps.set("default/bar:80", backend(t, "bar"))
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(strings.Repeat("x", 100))
		if chunked {
			body = io.MultiReader(body) // no ContentLength: the limit hits while streaming
		}
		req, _ := http.NewRequest("POST", srv.URL+"/", body)
		req.Host = "bar.example"
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: %d, want 413", chunked, resp.StatusCode)
		}
	}
}

func TestProxyRedirectsTLSHosts(t *testing.T) {
	h, eps, srv := setup(t, HandlerOptions{HTTPSPort: 8443})
	eps.set("default/bar:80", backend(t, "bar"))
	h.SetTLSHosts(map[string]bool{"bar.example": true})
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", srv.URL+"/a?b=c", nil)
	req.Host = "bar.example:8080"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://bar.example:8443/a?b=c" {
		t.Errorf("redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestProxyWebSocket(t *testing.T) {
	_, eps, srv := setup(t, HandlerOptions{})
	eps.set("default/bar:80", backend(t, "bar"))
	d := websocket.Dialer{}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", http.Header{"Host": {"bar.example"}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "bar:ping" {
		t.Errorf("read %q %v", msg, err)
	}
}
