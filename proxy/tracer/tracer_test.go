package tracer

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/svclab/svclab/proxy/ipvs"
	"github.com/svclab/svclab/proxy/trace"
	"github.com/svclab/svclab/proxy/userspace"
)

// fakeSource serves fixed rules.
type fakeSource struct {
	mode, save, nft string
	addrs           []netip.Addr
}

func (f fakeSource) Mode(context.Context) (string, error) {
	if f.mode == "" {
		return "", errors.New("kube-proxy is not answering")
	}
	return f.mode, nil
}
func (f fakeSource) IPTablesSave(context.Context) (string, error) { return f.save, nil }
func (f fakeSource) NFTRuleset(context.Context) (string, error) {
	if f.nft == "" {
		return "", errors.New("no such table")
	}
	return f.nft, nil
}
func (f fakeSource) UserspaceTable(context.Context) (userspace.Table, error) {
	return userspace.Table{}, nil
}
func (f fakeSource) IPVSTable(context.Context) (*ipvs.Table, error)   { return &ipvs.Table{}, nil }
func (f fakeSource) LocalAddrs(context.Context) ([]netip.Addr, error) { return f.addrs, nil }

const save = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination 10.180.0.1:80
COMMIT
`

func TestTraceDetectsModeAndOrigin(t *testing.T) {
	src := fakeSource{save: save, addrs: []netip.Addr{netip.MustParseAddr("192.168.0.2")}}
	for _, tc := range []struct {
		from   string
		origin trace.Origin
	}{{"10.180.0.5", trace.FromNetwork}, {"192.168.0.2", trace.FromNode}} {
		pkt, err := ParsePacket(tc.from, "172.30.0.41:80/tcp")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Trace(context.Background(), src, "", pkt)
		if err != nil {
			t.Fatal(err)
		}
		if res.Packet.Origin != tc.origin || res.Verdict != trace.Forwarded || len(res.Choices) != 1 ||
			res.Choices[0].Endpoint.String() != "10.180.0.1:80" {
			t.Errorf("from %s: %s", tc.from, res)
		}
	}
}

func TestDetectMode(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		src  fakeSource
		want string
	}{
		{fakeSource{mode: "ipvs"}, "ipvs"},
		{fakeSource{nft: "table ip kube-proxy {\n}"}, "nftables"},
		{fakeSource{save: ":KUBE-PORTALS-CONTAINER - [0:0]"}, "userspace"},
		{fakeSource{save: save}, "iptables"},
	} {
		if got, err := DetectMode(ctx, tc.src); err != nil || got != tc.want {
			t.Errorf("DetectMode = %q, %v; want %q", got, err, tc.want)
		}
	}
	if _, err := DetectMode(ctx, fakeSource{}); err == nil || !strings.Contains(err.Error(), "kube-proxy") {
		t.Errorf("no rules: %v", err)
	}
}

func TestParsePacket(t *testing.T) {
	pkt, err := ParsePacket("10.0.0.1:1234", "10.96.0.10:53/udp")
	if err != nil || pkt.Protocol != "udp" || pkt.SrcPort != 1234 || pkt.DstPort != 53 {
		t.Fatalf("%+v %v", pkt, err)
	}
	for _, bad := range [][2]string{{"x", "10.0.0.1:80"}, {"10.0.0.1", "10.0.0.2"}, {"10.0.0.1", "10.0.0.2:80/sctp"}, {"::1", "[::1]:80"}} {
		if _, err := ParsePacket(bad[0], bad[1]); err == nil {
			t.Errorf("ParsePacket(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
