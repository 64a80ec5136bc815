package userspace

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svclab/svclab/proxy"
)

var (
	testName = proxy.ServicePortName{NamespacedName: types.NamespacedName{Namespace: "ns1", Name: "svc1"}, Port: "p80", Protocol: corev1.ProtocolTCP}
	epA      = netip.MustParseAddrPort("10.180.0.1:80")
	epB      = netip.MustParseAddrPort("10.180.0.2:80")
	epC      = netip.MustParseAddrPort("10.180.1.1:80")
	client1  = netip.MustParseAddr("10.180.0.9")
	client2  = netip.MustParseAddr("10.180.1.9")
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func picks(t *testing.T, b *balancer, client netip.Addr, n int) []netip.AddrPort {
	t.Helper()
	var out []netip.AddrPort
	for range n {
		ep, err := b.next(testName, client, false)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		out = append(out, ep)
	}
	return out
}

func equalEPs(a, b []netip.AddrPort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBalancerRoundRobinOrder(t *testing.T) {
	b := newBalancer(time.Now)
	if _, err := b.next(testName, client1, false); !errors.Is(err, ErrNoService) {
		t.Fatalf("unknown service: err = %v, want ErrNoService", err)
	}
	b.update(testName, nil, false, 0)
	if _, err := b.next(testName, client1, false); !errors.Is(err, ErrNoEndpoints) {
		t.Fatalf("no endpoints: err = %v, want ErrNoEndpoints", err)
	}
	b.update(testName, []netip.AddrPort{epA, epB, epC}, false, 0)
	got := picks(t, b, client1, 7)
	want := []netip.AddrPort{epA, epB, epC, epA, epB, epC, epA}
	if !equalEPs(got, want) {
		t.Fatalf("round robin = %v, want %v", got, want)
	}
	// The same set in another order changes nothing; a new set restarts at the top.
	b.update(testName, []netip.AddrPort{epC, epB, epA}, false, 0)
	if got := picks(t, b, client1, 1); got[0] != epB {
		t.Fatalf("after a no-op update next = %v, want %v", got[0], epB)
	}
	b.update(testName, []netip.AddrPort{epA, epC}, false, 0)
	if got := picks(t, b, client1, 3); !equalEPs(got, []netip.AddrPort{epA, epC, epA}) {
		t.Fatalf("after a change = %v", got)
	}
}

func TestBalancerAffinity(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	b := newBalancer(clk.now)
	b.update(testName, []netip.AddrPort{epA, epB, epC}, true, 10)
	if got := picks(t, b, client1, 4); !equalEPs(got, []netip.AddrPort{epA, epA, epA, epA}) {
		t.Fatalf("client1 = %v, want always %v", got, epA)
	}
	if got := picks(t, b, client2, 2); !equalEPs(got, []netip.AddrPort{epB, epB}) {
		t.Fatalf("client2 = %v, want always %v", got, epB)
	}
	// Each use refreshes the record: 9s later it still holds, then 10s idle expires it.
	clk.advance(9 * time.Second)
	if got := picks(t, b, client1, 1); got[0] != epA {
		t.Fatalf("after 9s client1 = %v, want %v", got[0], epA)
	}
	clk.advance(10 * time.Second)
	if got := picks(t, b, client1, 1); got[0] != epC {
		t.Fatalf("after the timeout client1 = %v, want the next in round robin %v", got[0], epC)
	}
	// Removing the endpoint a client is pinned to forgets the client.
	b.update(testName, []netip.AddrPort{epA, epB}, true, 10)
	if got := picks(t, b, client1, 1); got[0] != epA {
		t.Fatalf("after its endpoint left client1 = %v, want %v", got[0], epA)
	}
	// client2's record (unused for 19s) has expired; only client1's is live.
	if _, _, clients := b.snapshot(testName); len(clients) != 1 || clients[0].ClientIP != client1 || clients[0].Endpoint != epA {
		t.Fatalf("snapshot clients = %v", clients)
	}
	// Expired records are cleaned up.
	clk.advance(11 * time.Second)
	b.cleanupStale()
	if n := len(b.services[testName].clients); n != 0 {
		t.Fatalf("%d records after cleanup", n)
	}
	// Turning affinity off forgets everyone.
	picks(t, b, client1, 1)
	b.update(testName, []netip.AddrPort{epA, epB}, false, 0)
	if n := len(b.services[testName].clients); n != 0 {
		t.Fatalf("%d records after affinity was turned off", n)
	}
}

func TestBalancerResetSkipsFailedEndpoint(t *testing.T) {
	b := newBalancer(time.Now)
	b.update(testName, []netip.AddrPort{epA, epB, epC}, true, 60)
	first, _ := b.next(testName, client1, false)
	// epA failed to connect: the retry moves on and re-pins the client.
	retry, _ := b.next(testName, client1, true)
	if first != epA || retry != epB {
		t.Fatalf("first = %v retry = %v, want %v then %v", first, retry, epA, epB)
	}
	if got := picks(t, b, client1, 2); !equalEPs(got, []netip.AddrPort{epB, epB}) {
		t.Fatalf("after the retry client1 = %v, want pinned to %v", got, epB)
	}
}
