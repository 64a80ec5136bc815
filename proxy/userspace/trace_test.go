package userspace

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/trace"
)

// summary is a Result in one line: verdict, masquerade and the choices.
func summary(r *trace.Result) string {
	var b strings.Builder
	b.WriteString(string(r.Verdict))
	if r.Masquerade {
		b.WriteString(" masq")
	}
	if r.Affinity != "" {
		b.WriteString(" affinity")
	}
	for _, c := range r.Choices {
		fmt.Fprintf(&b, " %s=%.2f", c.Endpoint, c.Probability)
	}
	return b.String()
}

func tracerFixture(t *testing.T) (string, Table, NodeInfo) {
	t.Helper()
	p, fake := newFakeProxier(t, Options{})
	if err := p.Sync(context.Background(), testState()); err != nil {
		t.Fatal(err)
	}
	return save(t, fake), p.Table(), NodeInfo{Name: pt.NodeName, LocalAddrs: pt.Config().NodeIPs}
}

func TestTracePacketFlows(t *testing.T) {
	saveText, table, node := tracerFixture(t)
	pod := netip.MustParseAddr("10.180.0.9")
	addr := netip.MustParseAddr
	tests := []struct {
		name   string
		origin trace.Origin
		src    netip.Addr
		dst    string
		port   int
		proto  string
		want   string
	}{
		{"pod to ClusterIP", trace.FromNetwork, pod, "172.30.0.41", 80, "tcp", "proxied masq 10.180.0.1:80=0.50 10.180.1.1:80=0.50"},
		{"node to ClusterIP", trace.FromNode, pt.NodeIP, "172.30.0.41", 80, "tcp", "proxied masq 10.180.0.1:80=0.50 10.180.1.1:80=0.50"},
		{"ClusterIP, wrong port", trace.FromNetwork, pod, "172.30.0.41", 81, "tcp", "untouched"},
		{"ClusterIP, wrong protocol", trace.FromNetwork, pod, "172.30.0.41", 80, "udp", "untouched"},
		{"not a Service", trace.FromNetwork, pod, "172.30.0.99", 80, "tcp", "untouched"},
		{"UDP ClusterIP", trace.FromNetwork, pod, "172.30.0.42", 53, "udp", "proxied masq 10.180.0.2:53=1.00"},
		{"outside to NodePort", trace.FromNetwork, pt.OutsideIP, "192.168.0.2", 3001, "udp", "proxied masq 10.180.0.2:53=1.00"},
		{"node to its NodePort", trace.FromNode, pt.NodeIP, "192.168.1.2", 3003, "tcp", "proxied masq 10.180.0.3:8080=1.00"},
		{"NodePort on a non-local address", trace.FromNetwork, pt.OutsideIP, "192.168.0.3", 3003, "tcp", "untouched"},
		{"outside to LoadBalancer", trace.FromNetwork, pt.OutsideIP, "1.2.3.4", 80, "tcp", "proxied masq 10.180.0.3:8080=1.00"},
		{"outside to externalIP", trace.FromNetwork, pt.OutsideIP, "192.168.99.11", 80, "tcp", "proxied masq 10.180.0.3:8080=1.00"},
		{"node to non-local externalIP", trace.FromNode, pt.NodeIP, "192.168.99.11", 80, "tcp", "untouched"},
		{"no endpoints", trace.FromNetwork, pod, "172.30.0.44", 80, "tcp", "rejected"},
		{"no endpoints from node", trace.FromNode, pt.NodeIP, "172.30.0.44", 80, "tcp", "rejected"},
		{"affinity", trace.FromNetwork, pod, "172.30.0.45", 80, "tcp", "proxied masq affinity 10.180.0.5:80=0.50 10.180.1.5:80=0.50"},
		{"straight to a proxy port", trace.FromNetwork, pod, "192.168.0.2", 36000, "tcp", "untouched"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkt := trace.Packet{Origin: tc.origin, Src: tc.src, Dst: addr(tc.dst), DstPort: tc.port, Protocol: tc.proto}
			res, err := Trace(saveText, table, pkt, node)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(res); got != tc.want {
				t.Errorf("got  %s\nwant %s\n%s", got, tc.want, res)
			}
		})
	}
}

func TestTraceWalk(t *testing.T) {
	saveText, table, node := tracerFixture(t)
	var out strings.Builder
	for _, pkt := range []trace.Packet{
		{Origin: trace.FromNetwork, Src: netip.MustParseAddr("10.180.0.9"), SrcPort: 40000, Dst: netip.MustParseAddr("172.30.0.41"), DstPort: 80, Protocol: "tcp"},
		{Origin: trace.FromNode, Src: pt.NodeIP, Dst: pt.NodeIP, DstPort: 3001, Protocol: "udp"},
		{Origin: trace.FromNetwork, Src: pt.OutsideIP, Dst: netip.MustParseAddr("172.30.0.44"), DstPort: 80, Protocol: "tcp"},
	} {
		res, err := Trace(saveText, table, pkt, node)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString(res.String() + "\n")
	}
	pt.Golden(t, "trace", out.String())
}

func TestTraceAffinityPinnedClient(t *testing.T) {
	p, fake := newFakeProxier(t, Options{})
	if err := p.Sync(context.Background(), testState()); err != nil {
		t.Fatal(err)
	}
	pod := netip.MustParseAddr("10.180.0.9")
	name := p.findName(t, "ns5/svc5:p80")
	// The client's first connection pins it to the first endpoint in round robin.
	if _, err := p.lb.next(name, pod, false); err != nil {
		t.Fatal(err)
	}
	node := NodeInfo{LocalAddrs: pt.Config().NodeIPs}
	pkt := trace.Packet{Origin: trace.FromNetwork, Src: pod, Dst: netip.MustParseAddr("172.30.0.45"), DstPort: 80, Protocol: "tcp"}
	res, err := Trace(save(t, fake), p.Table(), pkt, node)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(res), "proxied masq affinity 10.180.0.5:80=1.00"; got != want {
		t.Fatalf("got %s, want %s\n%s", got, want, res)
	}
	// Another client is not pinned.
	pkt.Src = netip.MustParseAddr("10.180.0.10")
	res, _ = Trace(save(t, fake), p.Table(), pkt, node)
	if len(res.Choices) != 2 {
		t.Fatalf("unpinned client: %s", res)
	}
}

func TestTraceErrors(t *testing.T) {
	if _, err := Trace("", Table{}, trace.Packet{Dst: netip.MustParseAddr("172.30.0.41"), DstPort: 80, Protocol: "sctp"}, NodeInfo{}); err == nil {
		t.Fatal("sctp accepted")
	}
	if _, err := Trace("", Table{}, trace.Packet{Protocol: "tcp"}, NodeInfo{}); err == nil {
		t.Fatal("a packet without destination accepted")
	}
}

func TestTableHandler(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	p, _ := newFakeProxier(t, Options{Now: clk.now})
	if err := p.Sync(context.Background(), testState()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.lb.next(p.findName(t, "ns5/svc5:p80"), netip.MustParseAddr("10.180.0.9"), false); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.TableHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/userspace", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	pt.Golden(t, "table", rec.Body.String())
	var back Table
	if err := json.Unmarshal(rec.Body.Bytes(), &back); err != nil {
		t.Fatalf("the table does not read back: %v", err)
	}
	if e, ok := back.Lookup(36004, "TCP"); !ok || e.Affinity == nil || len(e.Affinity.Clients) != 1 || e.Next != 1 {
		t.Fatalf("read back %+v", e)
	}
	rec = httptest.NewRecorder()
	p.TableHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/userspace", nil))
	if rec.Code != 405 {
		t.Fatalf("POST: status %d", rec.Code)
	}
}
