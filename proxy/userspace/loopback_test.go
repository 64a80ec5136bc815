package userspace

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/proxytest/netnstest"
)

// tcpServer answers every connection with its name, on 127.0.0.1.
func tcpServer(t *testing.T, name string) (net.Listener, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	netnstest.ServeTCP(t, ln, netnstest.Text(name))
	return ln, netip.MustParseAddrPort(ln.Addr().String())
}

// udpEcho answers every datagram with "echo:" and the datagram, on 127.0.0.1.
func udpEcho(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	netnstest.EchoUDP(t, pc, "echo:")
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// checkEcho sends each message over c and expects the UDP echo server's reply to it
// ("echo:" and the message) within 2s.
func checkEcho(t *testing.T, c net.Conn, msgs ...string) {
	t.Helper()
	buf := make([]byte, 100)
	for _, msg := range msgs {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "echo:"+msg {
			t.Fatalf("reply %q, %v; want echo:%s", buf[:n], err, msg)
		}
	}
}

// loopState builds a State by hand: the endpoints are loopback servers on random ports.
func loopState(ports map[string]*proxy.ServicePort, eps map[string][]netip.AddrPort) *proxy.State {
	st := &proxy.State{Services: map[proxy.ServicePortName]*proxy.ServicePort{}, Endpoints: map[proxy.ServicePortName][]proxy.Endpoint{}, Full: true}
	for name, sp := range ports {
		ns, rest, _ := strings.Cut(name, "/")
		svc, port, _ := strings.Cut(rest, ":")
		sp.Name = proxy.ServicePortName{NamespacedName: types.NamespacedName{Namespace: ns, Name: svc}, Port: port, Protocol: sp.Protocol}
		st.Services[sp.Name] = sp
		for _, ep := range eps[name] {
			st.Endpoints[sp.Name] = append(st.Endpoints[sp.Name], proxy.Endpoint{IP: ep.Addr(), Port: int(ep.Port()), Ready: true, Serving: true})
		}
	}
	return st
}

// get connects to the proxy port and returns what the endpoint said.
func get(t *testing.T, port int) string {
	t.Helper()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String()
	b, err := netnstest.Get(context.Background(), &net.Dialer{}, "tcp4", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("proxy port %d: %v", port, err)
	}
	return b
}

func proxyPort(t *testing.T, p *Proxier, name string) int {
	t.Helper()
	for _, e := range p.Table().Services {
		if e.Name == name {
			return e.ProxyPort
		}
	}
	t.Fatalf("%s is not in the table", name)
	return 0
}

// TestLoopbackProxy runs the proxy on real sockets on 127.0.0.1 (no root, fake iptables):
// round robin, affinity, retry after an endpoint goes away, UDP sessions, no endpoints.
func TestLoopbackProxy(t *testing.T) {
	lnA, a := tcpServer(t, "A")
	_, b := tcpServer(t, "B")
	echo := udpEcho(t)
	p, _ := newFakeProxier(t, Options{
		ListenIP:       netip.MustParseAddr("127.0.0.1"),
		Listener:       &net.ListenConfig{},
		UDPIdleTimeout: 200 * time.Millisecond,
		DialTimeouts:   []time.Duration{time.Second, time.Second},
	})
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	st := loopState(map[string]*proxy.ServicePort{
		"ns1/web:http":    {ClusterIP: ip("172.30.0.41"), Port: 80, Protocol: corev1.ProtocolTCP},
		"ns1/sticky:http": {ClusterIP: ip("172.30.0.42"), Port: 80, Protocol: corev1.ProtocolTCP, SessionAffinityClientIP: true, StickyMaxAgeSeconds: 60},
		"ns1/dns:dns":     {ClusterIP: ip("172.30.0.43"), Port: 53, Protocol: corev1.ProtocolUDP},
		"ns1/empty:http":  {ClusterIP: ip("172.30.0.44"), Port: 80, Protocol: corev1.ProtocolTCP},
	}, map[string][]netip.AddrPort{
		"ns1/web:http":    {a, b},
		"ns1/sticky:http": {a, b},
		"ns1/dns:dns":     {echo},
	})
	if err := p.Sync(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	web, sticky, dns, empty := proxyPort(t, p, "ns1/web:http"), proxyPort(t, p, "ns1/sticky:http"), proxyPort(t, p, "ns1/dns:dns"), proxyPort(t, p, "ns1/empty:http")

	t.Run("round robin", func(t *testing.T) {
		var got []string
		for range 4 {
			got = append(got, get(t, web))
		}
		if got[0] == got[1] || got[0] != got[2] || got[1] != got[3] {
			t.Fatalf("answers %v, want alternating A and B", got)
		}
	})
	t.Run("affinity", func(t *testing.T) {
		first := get(t, sticky)
		for range 4 {
			if got := get(t, sticky); got != first {
				t.Fatalf("answer %q after %q: the client moved", got, first)
			}
		}
	})
	t.Run("no endpoints", func(t *testing.T) {
		// Without iptables the reject rule does not apply; the proxy closes at once.
		if got := get(t, empty); got != "" {
			t.Fatalf("answer %q from a Service without endpoints", got)
		}
	})
	t.Run("UDP", func(t *testing.T) {
		c, err := net.Dial("udp4", netip.AddrPortFrom(ip("127.0.0.1"), uint16(dns)).String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		checkEcho(t, c, "one", "two")
		e, _ := p.Table().Lookup(dns, "udp")
		if e.UDPSessions != 1 {
			t.Fatalf("%d UDP sessions, want 1", e.UDPSessions)
		}
		// The session ends after the idle timeout (200ms).
		for i := 0; ; i++ {
			if e, _ := p.Table().Lookup(dns, "udp"); e.UDPSessions == 0 {
				break
			}
			if i == 50 {
				t.Fatal("the UDP session outlived its idle timeout by 1s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("retry after an endpoint closed", func(t *testing.T) {
		pinned := get(t, sticky)
		lnA.Close()
		for range 4 {
			if got := get(t, web); got != "B" {
				t.Fatalf("answer %q with A closed, want B", got)
			}
		}
		for range 3 {
			if got := get(t, sticky); got != "B" {
				t.Fatalf("sticky answer %q with A closed (was pinned to %s), want B", got, pinned)
			}
		}
	})
	t.Run("service removed", func(t *testing.T) {
		delete(st.Services, p.mustName(t, "ns1/web:http"))
		if err := p.Sync(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(ip("127.0.0.1"), uint16(web)).String(), time.Second); err == nil {
			c.Close()
			t.Fatal("the removed Service's listener still accepts")
		}
	})
}

// mustName returns the proxied ServicePortName whose String is s.
func (p *Proxier) mustName(t *testing.T, s string) proxy.ServicePortName {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := range p.services {
		if n.String() == s {
			return n
		}
	}
	t.Fatalf("%s is not proxied", s)
	return proxy.ServicePortName{}
}
