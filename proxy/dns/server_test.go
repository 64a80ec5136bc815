package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svclab/svclab/proxy/dns/dnstest"
)

// closedPort returns a loopback UDP address nothing listens on (bound, then released).
func closedPort(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// fakeUpstream serves "www.example." on a loopback port, standing in for the host's
// resolver.
func fakeUpstream(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fwd := &dnstest.Forwarder{}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m, _ := fwd.Forward(context.Background(), r)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestServerUDPAndTCP runs the whole server on loopback (no privileges) against a fake
// API: UDP and TCP queries, a large headless answer truncated over UDP and complete over
// TCP, forwarding, SERVFAIL within the forward timeout for an unreachable upstream, a
// change seen through the informer, and the metrics.
func TestServerUDPAndTCP(t *testing.T) {
	var objs []runtime.Object
	objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		dnstest.Service("default", "web", "10.96.0.20", "http:80/TCP"),
		dnstest.Service("default", "big", corev1.ClusterIPNone, "http:80/TCP"))
	var eps []dnstest.Endpoint
	for i := range 100 {
		eps = append(eps, dnstest.Endpoint{IP: fmt.Sprintf("10.244.3.%d", i+1)})
	}
	objs = append(objs, dnstest.Slice("default", "big-1", "big", eps, "http:80/TCP"))
	client := fake.NewClientset(objs...)

	for _, tc := range []struct {
		name      string
		upstreams []string
		wantRcode int
	}{
		{"reachable upstream", []string{fakeUpstream(t)}, dns.RcodeSuccess},
		{"unreachable upstream", []string{closedPort(t)}, dns.RcodeServerFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			addrs := make(chan [2]net.Addr, 1)
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, Options{Client: client, Listen: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
					Upstreams: tc.upstreams, OnListening: func(u, t net.Addr) { addrs <- [2]net.Addr{u, t} }})
			}()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})
			var a [2]net.Addr
			select {
			case a = <-addrs:
			case err := <-done:
				t.Fatalf("Run: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("server did not start")
			}
			udpAddr, tcpAddr := a[0].String(), a[1].String()
			if udpAddr != tcpAddr {
				t.Fatalf("UDP %s and TCP %s differ", udpAddr, tcpAddr)
			}
			ask := func(netw, name string, qtype uint16) (*dns.Msg, time.Duration) {
				t.Helper()
				c := &dns.Client{Net: netw, Timeout: 5 * time.Second}
				m, rtt, err := c.Exchange(new(dns.Msg).SetQuestion(name, qtype), udpAddr)
				if err != nil {
					t.Fatalf("%s %s: %v", netw, name, err)
				}
				return m, rtt
			}
			for _, netw := range []string{"udp", "tcp"} {
				m, _ := ask(netw, "web.default.svc.cluster.local.", dns.TypeA)
				if len(m.Answer) != 1 || !m.Authoritative || m.Answer[0].(*dns.A).A.String() != "10.96.0.20" {
					t.Errorf("%s: %s", netw, dnstest.Format(m))
				}
			}
			// The EndpointSlice informer may deliver a moment after the Service one.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if m, _ := ask("tcp", "big.default.svc.cluster.local.", dns.TypeA); len(m.Answer) == 100 {
					break
				}
			}
			m, _ := ask("udp", "big.default.svc.cluster.local.", dns.TypeA)
			if !m.Truncated || len(m.Answer) == 100 {
				t.Errorf("large answer over UDP: tc=%v answers=%d", m.Truncated, len(m.Answer))
			}
			// The client's own retry, as a stub resolver does on TC.
			m, _ = ask("tcp", "big.default.svc.cluster.local.", dns.TypeA)
			if m.Truncated || len(m.Answer) != 100 {
				t.Errorf("large answer over TCP: tc=%v answers=%d", m.Truncated, len(m.Answer))
			}
			start := time.Now()
			m, _ = ask("udp", "www.example.", dns.TypeA)
			if m.Rcode != tc.wantRcode || time.Since(start) > DefaultForwardTimeout+time.Second {
				t.Errorf("forwarded: %s after %s, want %s", dns.RcodeToString[m.Rcode], time.Since(start), dns.RcodeToString[tc.wantRcode])
			}
		})
	}
	t.Run("changes through the informer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := fake.NewClientset()
		addrs := make(chan net.Addr, 1)
		go func() {
			_ = Run(ctx, Options{Client: c, Listen: "127.0.0.1:0", Upstreams: []string{}, OnListening: func(u, _ net.Addr) { addrs <- u }})
		}()
		addr := (<-addrs).String()
		if _, err := c.CoreV1().Services("default").Create(ctx, dnstest.Service("default", "new", "10.96.0.40", "http:80/TCP"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for {
			m, _, err := (&dns.Client{Timeout: time.Second}).Exchange(new(dns.Msg).SetQuestion("new.default.svc.cluster.local.", dns.TypeA), addr)
			if err == nil && len(m.Answer) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the new Service is not answered within a second: %v %v", m, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	conf := "nameserver 10.96.0.10\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch default.svc.cluster.local\noptions ndots:5\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := UpstreamsFromResolvConf(path, netip.MustParsePrefix("10.96.0.0/12"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "192.0.2.53:53 [2001:db8::53]:53"; strings.Join(got, " ") != want {
		t.Errorf("upstreams = %v, want %s", got, want)
	}
	if _, err := UpstreamsFromResolvConf(path+".missing", netip.MustParsePrefix("10.96.0.0/12")); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestUpstreamUnreachableFailsFast(t *testing.T) {
	u := &Upstream{Servers: []string{closedPort(t), closedPort(t)}, Timeout: time.Second}
	start := time.Now()
	_, err := u.Forward(context.Background(), new(dns.Msg).SetQuestion("www.example.", dns.TypeA))
	if err == nil || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("err %v after %s", err, time.Since(start))
	}
	if _, err := (&Upstream{}).Forward(context.Background(), new(dns.Msg).SetQuestion("x.", dns.TypeA)); err != ErrNoUpstream {
		t.Errorf("no servers: %v", err)
	}
}
