package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestDefaultPlanIsValid(t *testing.T) {
	p := DefaultPlan(DefaultLab)
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if p.Bridge != "svclab0" {
		t.Errorf("Bridge = %q, want svclab0", p.Bridge)
	}
	if got := p.Gateway().String(); got != "172.30.0.1" {
		t.Errorf("Gateway() = %s, want 172.30.0.1", got)
	}
}

func TestPlanValidate(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name   string
		modify func(*Plan)
		want   []string // every line of the error, in order; nil for valid
	}{
		{"default", func(*Plan) {}, nil},
		{"no load-balancer pool", func(p *Plan) { p.LBCIDR = netip.Prefix{} }, nil},
		{"bad lab", func(p *Plan) { p.Lab = "My_Lab" }, []string{
			`lab name "My_Lab": must be at most 63 lower case alphanumeric characters or '-', starting and ending with an alphanumeric character`}},
		{"long bridge", func(p *Plan) { p.Bridge = "svclab-0123456789" }, []string{
			`bridge name "svclab-0123456789": must be 1-15 letters, digits, '.', '_' or '-'`}},
		{"missing pod range", func(p *Plan) { p.PodCIDR = netip.Prefix{} }, []string{`--pod-network-cidr: required`}},
		{"not canonical", func(p *Plan) { p.PodCIDR = pfx("10.244.1.0/16") }, []string{
			`--pod-network-cidr=10.244.1.0/16: not a network address (did you mean 10.244.0.0/16?)`}},
		{"ipv6", func(p *Plan) { p.NodeCIDR = pfx("fd00::/64") }, []string{`--node-cidr=fd00::/64: must be an IPv4 range`}},
		{"node net too small", func(p *Plan) { p.NodeCIDR = pfx("172.30.0.0/29") }, []string{
			`--node-cidr=172.30.0.0/29: too small: it needs the gateway and nodes from host number 11 on (use a /28 or larger)`}},
		{"pod net too small", func(p *Plan) { p.PodCIDR = pfx("10.244.0.0/25") }, []string{
			`--pod-network-cidr=10.244.0.0/25: too small: each node gets a /24 (use a /24 or larger)`}},
		{"service range too large", func(p *Plan) { p.ServiceCIDR = pfx("10.0.0.0/8") }, []string{
			`--service-cluster-ip-range=10.0.0.0/8: too large: for 32-bit addresses, the mask must be >= 12`}},
		{"overlaps", func(p *Plan) {
			p.ServiceCIDR = pfx("10.244.0.0/16")
			p.LBCIDR = pfx("172.30.0.128/25")
		}, []string{
			`--node-cidr=172.30.0.0/24 overlaps --lb-cidr=172.30.0.128/25: change one of them`,
			`--pod-network-cidr=10.244.0.0/16 overlaps --service-cluster-ip-range=10.244.0.0/16: change one of them`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPlan("lab1")
			tt.modify(&p)
			err := p.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestPlanNodeAddresses(t *testing.T) {
	p := DefaultPlan("lab1")
	tests := []struct {
		index   int
		ip, pod string
	}{
		{0, "172.30.0.11", "10.244.0.0/24"},
		{1, "172.30.0.12", "10.244.1.0/24"},
		{2, "172.30.0.13", "10.244.2.0/24"},
		{243, "172.30.0.254", "10.244.243.0/24"},
	}
	for _, tt := range tests {
		ip, err := p.NodeIP(tt.index)
		if err != nil || ip.String() != tt.ip {
			t.Errorf("NodeIP(%d) = %v, %v; want %s", tt.index, ip, err, tt.ip)
		}
		pod, err := p.NodePodCIDR(tt.index)
		if err != nil || pod.String() != tt.pod {
			t.Errorf("NodePodCIDR(%d) = %v, %v; want %s", tt.index, pod, err, tt.pod)
		}
	}
	if got := p.MaxNodes(); got != 244 {
		t.Errorf("MaxNodes() = %d, want 244", got)
	}
	if _, err := p.NodeIP(244); err == nil || err.Error() != "node index 244: out of range: the plan has room for 244 nodes" {
		t.Errorf("NodeIP(244) error = %v", err)
	}
	small := p
	small.PodCIDR = netip.MustParsePrefix("10.244.0.0/23")
	if got := small.MaxNodes(); got != 2 {
		t.Errorf("MaxNodes() with a /23 pod range = %d, want 2", got)
	}
}

func TestNamesFitLinux(t *testing.T) {
	labs := []string{DefaultLab, "a", "lab-with-a-rather-long-name-that-is-still-a-valid-dns-label-xyz"}
	for _, lab := range labs {
		for _, name := range []string{BridgeName(lab), hostVethName(lab, 0), hostVethName(lab, 243), podVethName("0123456789ab")} {
			if len(name) > 15 || !ifaceNameRE.MatchString(name) {
				t.Errorf("lab %q: link name %q is not a valid Linux interface name (max 15 characters)", lab, name)
			}
		}
	}
	if got := BridgeName("t"); got != "svclab-f10c3da3" {
		t.Errorf("BridgeName(t) = %q", got)
	}
	if got := NodeNetNS("t", "n1"); got != "svclab-t-n1" {
		t.Errorf("NodeNetNS = %q", got)
	}
	if got := PodNetNS("t", "0123456789"); got != "svclab-t-p-0123456789" {
		t.Errorf("PodNetNS = %q", got)
	}
	for _, id := range []string{"", "0123456789abc", "ABC", "a-b"} {
		if validatePodID(id) == nil {
			t.Errorf("validatePodID(%q) = nil, want an error", id)
		}
	}
	for _, name := range []string{"p-1", "Node", ""} {
		if validateNodeName(name) == nil {
			t.Errorf("validateNodeName(%q) = nil, want an error", name)
		}
	}
}
