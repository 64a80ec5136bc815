package ingress

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	networkingv1 "k8s.io/api/networking/v1"
)

// BenchmarkProxy measures the proxy's hot path on loopback, no lab: keep-alive clients in
// parallel through a Handler with an access log (to a file, as stdout is in a pod) and
// metrics, round robin over three backends.
//
//	go test ./proxy/ingress -run '^$' -bench Proxy -benchmem -cpuprofile cpu.out
//
// BenchmarkProxyDirect is the same load sent straight to one backend: what BenchmarkProxy
// costs above it is the proxy's share (its allocations and CPU per request).
func BenchmarkProxy(b *testing.B) {
	var addrs []string
	for range 3 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello from a backend\n")
		}))
		b.Cleanup(s.Close)
		addrs = append(addrs, s.Listener.Addr().String())
	}
	logFile, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	al := NewAccessLog(logFile)
	b.Cleanup(func() { _ = al.Close() })
	eps := &EndpointMap{}
	eps.Set(map[Backend][]string{{Namespace: "default", Service: "web", Port: 80}: addrs})
	h := NewHandler(eps, HandlerOptions{AccessLog: al, Metrics: NewMetrics(prometheus.NewRegistry())})
	b.Cleanup(h.CloseIdleConnections)
	h.SetTable(NewTable([]*networkingv1.Ingress{ing("web", 0, map[string][]string{
		"bench.local": {"Prefix / web:80", "Prefix /api api:80", "Exact /healthz web:80"},
		"other.local": {"Prefix / other:80"},
	})}))
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	benchLoad(b, srv.URL)
}

func BenchmarkProxyDirect(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from a backend\n")
	}))
	b.Cleanup(s.Close)
	benchLoad(b, s.URL)
}

// benchLoad sends GET /index.html with Host bench.local to url from parallel keep-alive
// clients.
func benchLoad(b *testing.B, url string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url+"/index.html", nil)
		req.Host = "bench.local"
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
