package network_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/network/networktest"
)

func TestCheckHostOverlap(t *testing.T) {
	pfx := netip.MustParsePrefix
	route := func(dst, desc string) network.HostRoute { return network.HostRoute{Dst: pfx(dst), Desc: desc} }
	tests := []struct {
		name   string
		routes []network.HostRoute
		want   []string
	}{
		{"no routes", nil, nil},
		{"default route ignored", []network.HostRoute{route("0.0.0.0/0", "default via 192.0.2.1 dev eth0")}, nil},
		{"unrelated", []network.HostRoute{route("192.168.1.0/24", "192.168.1.0/24 dev wlan0 proto kernel scope link")}, nil},
		{"pod network", []network.HostRoute{route("10.244.0.0/16", "10.244.0.0/16 dev cni0 proto kernel scope link")}, []string{
			`pod network 10.244.0.0/16 overlaps the host route "10.244.0.0/16 dev cni0 proto kernel scope link": choose another range with --pod-network-cidr`}},
		{"wider route", []network.HostRoute{route("10.0.0.0/8", "10.0.0.0/8 via 192.0.2.1 dev eth0")}, []string{
			`pod network 10.244.0.0/16 overlaps the host route "10.0.0.0/8 via 192.0.2.1 dev eth0": choose another range with --pod-network-cidr`,
			`service network 10.96.0.0/12 overlaps the host route "10.0.0.0/8 via 192.0.2.1 dev eth0": choose another range with --service-cluster-ip-range`}},
		{"node and lb, first route named", []network.HostRoute{
			route("172.30.0.5/32", "local 172.30.0.5 dev docker1 table local proto kernel scope host"),
			route("172.16.0.0/12", "172.16.0.0/12 dev vpn0"),
		}, []string{
			`node network 172.30.0.0/24 overlaps the host route "local 172.30.0.5 dev docker1 table local proto kernel scope host": choose another range with --node-cidr`,
			`load-balancer pool 172.30.1.0/24 overlaps the host route "172.16.0.0/12 dev vpn0": choose another range with --lb-cidr`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := network.CheckHostOverlap(network.DefaultPlan("lab1"), tt.routes)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckHostOverlap() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != strings.Join(tt.want, "\n") {
				t.Fatalf("CheckHostOverlap() =\n%v\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
			if !errors.Is(err, network.ErrOverlap) {
				t.Errorf("errors.Is(err, ErrOverlap) = false")
			}
		})
	}
}

func TestHostRoutesSkipOwnRoutes(t *testing.T) {
	k := networktest.New()
	pfx := netip.MustParsePrefix
	k.AddHostRoute(network.Route{Dst: pfx("10.244.0.0/16"), Type: network.RouteUnreachable, Protocol: network.ProtoSvclab, Realm: 8128}) // lab t's own
	k.AddHostRoute(network.Route{Dst: pfx("10.244.5.0/24"), Gw: netip.MustParseAddr("172.30.0.16"), Dev: "svclab-f10c3da3", Protocol: network.ProtoSvclab, Realm: 8128})
	k.AddHostRoute(network.Route{Dst: pfx("172.30.0.0/24"), Dev: "svclab-f10c3da3", Protocol: 2, Scope: "link"})
	k.AddHostRoute(network.Route{Type: network.RouteUnreachable, Dst: pfx("10.96.0.0/12"), Protocol: network.ProtoSvclab, Realm: 61767}) // lab a's
	k.AddHostRoute(network.Route{Dst: pfx("10.96.0.0/16"), Dev: "eth0", Table: 100})
	k.AddHostRoute(network.Route{Dev: "eth0", Gw: netip.MustParseAddr("192.0.2.1")})
	p := network.DefaultPlan("t")
	routes, err := network.HostRoutes(k, p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, r.Desc)
	}
	want := "unreachable 10.96.0.0/12 proto 92 realm 61767|10.96.0.0/16 dev eth0 table 100"
	if strings.Join(got, "|") != want {
		t.Errorf("HostRoutes() = %q, want %q", strings.Join(got, "|"), want)
	}
	err = network.CheckHostOverlap(p, routes)
	if want := `service network 10.96.0.0/12 overlaps the host route "unreachable 10.96.0.0/12 proto 92 realm 61767": choose another range with --service-cluster-ip-range`; err == nil || err.Error() != want {
		t.Errorf("CheckHostOverlap() = %v, want %s", err, want)
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
