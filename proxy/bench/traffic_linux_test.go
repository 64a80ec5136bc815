package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	labnet "github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

var (
	requests = flag.Int("requests", 2000,
		"HTTP requests per target (direct, ClusterIP) and variant in BenchmarkProxyTraffic")
	trafficServices = flag.Int("traffic-services", 1000,
		"Services in the node's rules during BenchmarkProxyTraffic; the measured one sorts last")
)

const (
	// webClusterIP is the measured Service bench/web; the other Services take the
	// addresses after it.
	webClusterIP = "172.30.0.41"
	// requestTimeout bounds every request, so a broken path fails the row instead of
	// hanging.
	requestTimeout = 2 * time.Second
	warmup         = 50
)

// BenchmarkProxyTraffic sends HTTP from the node namespace to a Go server in the pod
// namespace, alternating requests sent straight to the pod (podIP:80, the baseline) with
// requests to the ClusterIP (through the mode), so both see the same machine noise. With
// new-conn every request opens a TCP connection (so NAT and conntrack, or the userspace
// proxy's accept and dial, are paid per request); with keep-alive one connection per
// target carries them all. Reported: req/s and p50/p99 latency of the ClusterIP
// (direct-* of the pod IP), x-vs-direct, ClusterIP req/s over direct req/s (the issue's
// "within 5%"), and x-p50-vs-direct, the ratio of the medians (steadier on a busy machine).
func BenchmarkProxyTraffic(b *testing.B) {
	privtest.Require(b, "ip")
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			m.require(b)
			ns, err := newNetNS(b)
			if err != nil {
				b.Fatal(err)
			}
			if err := serveHTTP(b, ns); err != nil {
				b.Fatal(err)
			}
			p, err := m.start(b, ns)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), *syncBudget)
			defer cancel()
			if err := p.Sync(ctx, trafficState(*trafficServices)); err != nil {
				b.Fatalf("sync %d Services: %v", *trafficServices, err)
			}
			direct := podAddr + ":80"
			service := webClusterIP + ":80"
			for _, keepAlive := range []bool{false, true} {
				name := "new-conn"
				if keepAlive {
					name = "keep-alive"
				}
				b.Run(name, func(b *testing.B) {
					var d, s []time.Duration
					b.ResetTimer()
					for range b.N {
						di, si, err := measure(ns, direct, service, keepAlive, *requests)
						if err != nil {
							b.Fatal(err)
						}
						d, s = append(d, di...), append(s, si...)
					}
					b.StopTimer()
					dr, sr := rate(d), rate(s)
					b.ReportMetric(sr, "req/s")
					b.ReportMetric(percentileMS(s, 50), "p50-ms")
					b.ReportMetric(percentileMS(s, 99), "p99-ms")
					b.ReportMetric(dr, "direct-req/s")
					b.ReportMetric(percentileMS(d, 50), "direct-p50-ms")
					b.ReportMetric(percentileMS(d, 99), "direct-p99-ms")
					b.ReportMetric(sr/dr, "x-vs-direct")
					b.ReportMetric(percentileMS(s, 50)/percentileMS(d, 50), "x-p50-vs-direct")
				})
			}
		})
	}
}

// trafficState is bench/web (ClusterIP webClusterIP, one endpoint: the pod's server)
// after n-1 other Services.
func trafficState(n int) *proxy.State {
	objs := append(services(1, n),
		pt.Service(benchNS, "web", webClusterIP, pt.Port("p80", 80, tcp)),
		pt.Slice(benchNS, "web", "p80", 80, corev1.ProtocolTCP, pt.EP{IP: podAddr, Node: pt.NodeName}))
	return pt.State(objs...)
}

// serveHTTP runs a net/http server on podAddr:80 in the pod namespace until b ends.
func serveHTTP(b *testing.B, ns *netNS) error {
	ln, err := labnet.ListenInNamespace(context.Background(), ns.podPath, "tcp4", podAddr+":80")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok\n")
		}),
		ReadHeaderTimeout: requestTimeout,
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return nil
}

// measure does warmup then n requests to each of direct and service, alternating (and
// alternating which goes first), from a thread in the node namespace so every socket is
// created there. It returns each request's latency.
func measure(ns *netNS, direct, service string, keepAlive bool, n int) (d, s []time.Duration, err error) {
	err = labnet.RunInNamespace(ns.nodePath, func() error {
		dc, sc := newClient(direct, keepAlive), newClient(service, keepAlive)
		defer dc.close()
		defer sc.close()
		for i := range warmup + n {
			first, second := dc, sc
			if i%2 == 1 {
				first, second = sc, dc
			}
			for _, c := range []*client{first, second} {
				took, err := c.do()
				if err != nil {
					return fmt.Errorf("request %d to %s: %w", i, c.addr, err)
				}
				if i >= warmup {
					c.took = append(c.took, took)
				}
			}
		}
		d, s = dc.took, sc.took
		return nil
	})
	return d, s, err
}

// client sends GET / to one address with net/http's wire code, on connections dialled
// from the calling goroutine (so in its thread's namespace).
type client struct {
	addr      string
	keepAlive bool
	req       *http.Request
	conn      net.Conn
	br        *bufio.Reader
	took      []time.Duration
}

func newClient(addr string, keepAlive bool) *client {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Close = !keepAlive
	return &client{addr: addr, keepAlive: keepAlive, req: req}
}

func (c *client) do() (time.Duration, error) {
	start := time.Now()
	if c.conn == nil {
		d := net.Dialer{Timeout: requestTimeout}
		conn, err := d.Dial("tcp4", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	err := c.roundTrip(start.Add(requestTimeout))
	if err != nil || !c.keepAlive {
		c.close()
	}
	return time.Since(start), err
}

func (c *client) roundTrip(deadline time.Time) error {
	if err := c.conn.SetDeadline(deadline); err != nil {
		return err
	}
	if err := c.req.Write(c.conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, c.req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		return errors.New("unexpected answer: " + resp.Status + " " + string(body))
	}
	return nil
}

func (c *client) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

// rate is requests per second of sequential requests taking took.
func rate(took []time.Duration) float64 {
	var total time.Duration
	for _, t := range took {
		total += t
	}
	return float64(len(took)) / total.Seconds()
}

// percentileMS is the p-th percentile (nearest rank) of took in milliseconds.
func percentileMS(took []time.Duration, p int) float64 {
	sorted := slices.Clone(took)
	slices.Sort(sorted)
	i := (len(sorted)*p + 99) / 100
	i = max(1, min(i, len(sorted)))
	return float64(sorted[i-1]) / float64(time.Millisecond)
}
