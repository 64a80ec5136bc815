package ipvs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/trace"
)

func syncedTable(t *testing.T) Table {
	t.Helper()
	p, f := newTestProxier(t, Options{})
	ctx := context.Background()
	if err := p.Sync(ctx, pt.State(objects()...)); err != nil {
		t.Fatal(err)
	}
	table, err := ReadTable(ctx, f.ipvs, f.sets)
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot must survive JSON (the CLI reads it from the node).
	b, err := json.Marshal(table)
	if err != nil {
		t.Fatal(err)
	}
	var back Table
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func TestTrace(t *testing.T) {
	table := syncedTable(t)
	node := NodeInfoFromConfig(pt.Config())
	pod, outside := netip.MustParseAddr("10.180.0.5"), pt.OutsideIP
	tests := []struct {
		name    string
		origin  trace.Origin
		src     netip.Addr
		dst     string
		proto   string
		verdict trace.Verdict
		choices string // "ip:port=p ..." sorted
		masq    bool
		affine  bool
	}{
		{"pod to ClusterIP", trace.FromNetwork, pod, "172.30.0.41:80", "tcp", trace.Forwarded, "10.180.0.1:80=0.50 10.180.1.1:80=0.50", false, false},
		{"outside to ClusterIP is masqueraded", trace.FromNetwork, outside, "172.30.0.41:80", "tcp", trace.Forwarded, "10.180.0.1:80=0.50 10.180.1.1:80=0.50", true, false},
		{"node to ClusterIP is masqueraded", trace.FromNode, pt.NodeIP, "172.30.0.41:80", "tcp", trace.Forwarded, "10.180.0.1:80=0.50 10.180.1.1:80=0.50", true, false},
		{"NodePort with Local policy keeps the source", trace.FromNetwork, outside, "192.168.0.2:3001", "tcp", trace.Forwarded, "10.180.0.2:8080=1.00", false, false},
		{"NodePort with Cluster policy", trace.FromNetwork, outside, "192.168.1.2:3006", "tcp", trace.Forwarded, "10.180.1.6:80=1.00", true, false},
		{"LoadBalancer with Local policy", trace.FromNetwork, outside, "1.2.3.4:80", "tcp", trace.Forwarded, "10.180.0.2:8080=1.00", false, false},
		{"LoadBalancer source range allows", trace.FromNetwork, outside, "5.6.7.8:80", "tcp", trace.Forwarded, "10.180.1.7:80=1.00", true, false},
		{"LoadBalancer source range drops", trace.FromNetwork, netip.MustParseAddr("203.0.113.200"), "5.6.7.8:80", "tcp", trace.Dropped, "", false, false},
		{"externalIP with affinity", trace.FromNetwork, outside, "192.168.99.11:80", "tcp", trace.Forwarded, "10.180.0.3:80=0.50 10.180.1.3:80=0.50", true, true},
		{"ClusterIP with affinity", trace.FromNetwork, pod, "172.30.0.43:80", "tcp", trace.Forwarded, "10.180.0.3:80=0.50 10.180.1.3:80=0.50", false, true},
		{"no endpoints is rejected", trace.FromNetwork, pod, "172.30.0.45:80", "tcp", trace.Rejected, "", false, false},
		{"UDP with no local endpoint (internal Local)", trace.FromNetwork, pod, "172.30.0.44:53", "udp", trace.Rejected, "", false, false},
		{"other port of a VIP is rejected", trace.FromNetwork, pod, "172.30.0.41:22", "tcp", trace.Rejected, "", false, false},
		{"pod to pod is untouched", trace.FromNetwork, pod, "10.180.1.1:80", "tcp", trace.Untouched, "", false, false},
		{"localhost is left alone", trace.FromNode, netip.MustParseAddr("127.0.0.1"), "127.0.0.1:3001", "tcp", trace.Forwarded, "10.180.0.2:8080=1.00", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := netip.MustParseAddrPort(tc.dst)
			pkt := trace.Packet{Origin: tc.origin, Src: tc.src, SrcPort: 40000, Dst: dst.Addr(), DstPort: int(dst.Port()), Protocol: tc.proto}
			r, err := Trace(table, pkt, node)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.Choices {
				got = append(got, fmt.Sprintf("%s=%.2f", c.Endpoint, c.Probability))
			}
			slices.Sort(got)
			if r.Verdict != tc.verdict || strings.Join(got, " ") != tc.choices || r.Masquerade != tc.masq || (r.Affinity != "") != tc.affine {
				t.Errorf("got verdict %s choices %q masq %v affinity %q; want %s %q masq %v affinity %v\n%s",
					r.Verdict, strings.Join(got, " "), r.Masquerade, r.Affinity, tc.verdict, tc.choices, tc.masq, tc.affine, r)
			}
		})
	}
}

func TestTraceHairpinAndQuiesced(t *testing.T) {
	table := syncedTable(t)
	node := NodeInfoFromConfig(pt.Config())
	// A quiesced (terminating) real server gets no new connections.
	for i := range table.VirtualServers {
		if table.VirtualServers[i].Address == netip.MustParseAddrPort("172.30.0.41:80") {
			table.VirtualServers[i].RealServers[1].Weight = 0
		}
	}
	pkt := trace.Packet{Origin: trace.FromNetwork, Src: netip.MustParseAddr("10.180.0.1"), Dst: netip.MustParseAddr("172.30.0.41"), DstPort: 80, Protocol: "tcp"}
	r, err := Trace(table, pkt, node)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Choices) != 1 || r.Choices[0].Endpoint != netip.MustParseAddrPort("10.180.0.1:80") || !r.Masquerade {
		t.Errorf("hairpin to the only usable endpoint: want one choice (itself) and masquerade\n%s", r)
	}
	s := r.String()
	for _, want := range []string{"KUBE-LOOP-BACK", "quiesced real server", "-A -t 172.30.0.41:80 -s rr"} {
		if !strings.Contains(s, want) {
			t.Errorf("trace does not mention %q:\n%s", want, s)
		}
	}
}

func TestTraceRejectsBadPacket(t *testing.T) {
	if _, err := Trace(Table{}, trace.Packet{Protocol: "icmp"}, NodeInfo{}); err == nil {
		t.Error("want an error for protocol icmp")
	}
}
