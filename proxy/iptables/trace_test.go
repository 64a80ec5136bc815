package iptables

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"

	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/trace"
)

// flowTest is one packet and what must happen to it (upstream's packetFlowTest).
type flowTest struct {
	name     string
	origin   trace.Origin
	src      string
	dst      string // ip:port
	proto    string
	verdict  trace.Verdict
	eps      []string // endpoints, each with probability 1/len
	masq     bool
	affinity bool
}

func node1() NodeInfo { return NodeInfo{LocalAddrs: []netip.Addr{pt.NodeIP, pt.NodeIPAlt}} }

func runFlows(t *testing.T, save string, tests []flowTest) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := netip.MustParseAddrPort(tc.dst)
			proto := tc.proto
			if proto == "" {
				proto = "tcp"
			}
			origin := tc.origin
			if origin == "" {
				origin = trace.FromNetwork
			}
			pkt := trace.Packet{Origin: origin, Src: netip.MustParseAddr(tc.src), SrcPort: 40000, Dst: dst.Addr(), DstPort: int(dst.Port()), Protocol: proto}
			res, err := Trace(save, pkt, node1())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			sum := 0.0
			for _, c := range res.Choices {
				got = append(got, c.Endpoint.String())
				sum += c.Probability
				if want := 1 / float64(len(tc.eps)); math.Abs(c.Probability-want) > 1e-6 {
					t.Errorf("%s has probability %.6f, want %.6f", c.Endpoint, c.Probability, want)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.eps)
			slices.Sort(want)
			if res.Verdict != tc.verdict || !slices.Equal(got, want) || res.Masquerade != tc.masq || (res.Affinity != "") != tc.affinity {
				t.Errorf("got verdict %s endpoints %v masquerade %v affinity %q; want %s %v %v affinity %v\n%s",
					res.Verdict, got, res.Masquerade, res.Affinity, tc.verdict, want, tc.masq, tc.affinity, res)
			}
			if len(got) > 0 && math.Abs(sum-1) > 1e-6 {
				t.Errorf("probabilities add up to %f\n%s", sum, res)
			}
		})
	}
}

// TestTracePacketFlows walks packets through the golden representative rules.
func TestTracePacketFlows(t *testing.T) {
	p, fake := newTestProxier(t)
	mustSync(t, p, pt.State(representative()...))
	save := save(t, fake)
	runFlows(t, save, representativeFlows())
}

// representativeFlows are the packet flows through the representative Services.
func representativeFlows() []flowTest {
	const pod, otherPod, outside = "10.180.0.100", "10.180.1.100", "203.0.113.9"
	fwd, rej, drop, none := trace.Forwarded, trace.Rejected, trace.Dropped, trace.Untouched
	return []flowTest{
		{name: "ClusterIP from a pod", src: pod, dst: "172.30.0.41:80", verdict: fwd, eps: []string{"10.180.0.1:80", "10.180.1.1:80", "10.180.2.1:80"}},
		{name: "ClusterIP from a pod on another node's CIDR", src: otherPod, dst: "172.30.0.41:80", verdict: fwd, eps: []string{"10.180.0.1:80", "10.180.1.1:80", "10.180.2.1:80"}},
		{name: "ClusterIP from the node", origin: trace.FromNode, src: "192.168.0.2", dst: "172.30.0.41:80", verdict: fwd, eps: []string{"10.180.0.1:80", "10.180.1.1:80", "10.180.2.1:80"}, masq: true},
		{name: "ClusterIP from outside the cluster", src: outside, dst: "172.30.0.41:80", verdict: fwd, eps: []string{"10.180.0.1:80", "10.180.1.1:80", "10.180.2.1:80"}, masq: true},
		{name: "hairpin: a pod reaching itself", src: "10.180.0.9", dst: "172.30.0.49:80", verdict: fwd, eps: []string{"10.180.0.9:80"}, masq: true},
		{name: "terminating endpoint used when none is ready", src: pod, dst: "172.30.0.49:80", verdict: fwd, eps: []string{"10.180.0.9:80"}},
		{name: "wrong port is not a Service", src: pod, dst: "172.30.0.41:81", verdict: none},
		{name: "NodePort from outside", src: outside, dst: "192.168.0.2:3001", verdict: fwd, eps: []string{"10.180.0.2:80", "10.180.1.2:80"}, masq: true},
		{name: "NodePort on the second node address", src: outside, dst: "192.168.1.2:3001", verdict: fwd, eps: []string{"10.180.0.2:80", "10.180.1.2:80"}, masq: true},
		{name: "NodePort from the node itself", origin: trace.FromNode, src: "192.168.0.2", dst: "192.168.0.2:3001", verdict: fwd, eps: []string{"10.180.0.2:80", "10.180.1.2:80"}, masq: true},
		{name: "NodePort Local from outside keeps the client address", src: outside, dst: "192.168.0.2:3005", verdict: fwd, eps: []string{"10.180.0.5:80"}},
		{name: "NodePort Local from the node goes to any endpoint", origin: trace.FromNode, src: "192.168.0.2", dst: "192.168.0.2:3005", verdict: fwd, eps: []string{"10.180.0.5:80", "10.180.1.5:80"}, masq: true},
		{name: "NodePort Local from a pod goes to any endpoint", src: pod, dst: "192.168.0.2:3005", verdict: fwd, eps: []string{"10.180.0.5:80", "10.180.1.5:80"}},
		{name: "NodePort Local without a local endpoint is dropped", src: outside, dst: "192.168.0.2:3006", verdict: drop},
		{name: "ClusterIP of that Service still works", src: pod, dst: "172.30.0.46:80", verdict: fwd, eps: []string{"10.180.1.6:80"}},
		{name: "no endpoints: ClusterIP rejected", src: pod, dst: "172.30.0.47:80", verdict: rej},
		{name: "no endpoints: ClusterIP from the node rejected", origin: trace.FromNode, src: "192.168.0.2", dst: "172.30.0.47:80", verdict: rej},
		{name: "no endpoints: NodePort rejected", src: outside, dst: "192.168.0.2:3007", verdict: rej},
		{name: "LoadBalancer IP from an allowed source", src: outside, dst: "1.2.3.4:80", verdict: fwd, eps: []string{"10.180.0.3:80", "10.180.1.3:80"}, masq: true, affinity: true},
		{name: "LoadBalancer IP from a source outside loadBalancerSourceRanges", src: "203.0.113.200", dst: "1.2.3.4:80", verdict: drop},
		{name: "LoadBalancer Local IP", src: outside, dst: "5.6.7.8:80", verdict: fwd, eps: []string{"10.180.0.5:80"}},
		{name: "external IP", src: outside, dst: "192.168.99.11:80", verdict: fwd, eps: []string{"10.180.1.4:80"}, masq: true},
		{name: "internalTrafficPolicy Local", src: otherPod, dst: "172.30.0.48:80", verdict: fwd, eps: []string{"10.180.0.8:80"}},
		{name: "UDP DNS to a named target port", src: pod, dst: "172.30.0.10:53", proto: "udp", verdict: fwd, eps: []string{"10.180.0.10:5353", "10.180.1.10:5353"}},
		{name: "TCP to a UDP-only Service", src: pod, dst: "172.30.0.10:53", verdict: none},
		{name: "ClientIP affinity", src: pod, dst: "172.30.0.50:8080", verdict: fwd, eps: []string{"10.180.0.11:8080", "10.180.1.11:8080"}, affinity: true},
		{name: "not a Service", src: pod, dst: "8.8.8.8:53", proto: "udp", verdict: none},
	}
}

// TestTraceRealSaveFormat reads rules the way iptables-save prints them (normalised
// addresses, --set-xmark marks, reordered matches).
func TestTraceRealSaveFormat(t *testing.T) {
	save := `# Generated by iptables-save v1.8.9 (nf_tables)
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SVC-XPGD46QRK7WJZT7O ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
COMMIT
`
	runFlows(t, save, []flowTest{
		{name: "pod", src: "10.180.0.7", dst: "172.30.0.41:80", verdict: trace.Forwarded, eps: []string{"10.180.0.1:80"}},
		{name: "node", origin: trace.FromNode, src: "192.168.0.2", dst: "172.30.0.41:80", verdict: trace.Forwarded, eps: []string{"10.180.0.1:80"}, masq: true},
		{name: "hairpin", src: "10.180.0.1", dst: "172.30.0.41:80", verdict: trace.Forwarded, eps: []string{"10.180.0.1:80"}, masq: true},
	})
	res, err := Trace(save, trace.Packet{Origin: trace.FromNetwork, Src: netip.MustParseAddr("10.180.0.7"), Dst: netip.MustParseAddr("172.30.0.41"), DstPort: 80, Protocol: "tcp"}, node1())
	if err != nil {
		t.Fatal(err)
	}
	out := res.String()
	for _, want := range []string{"[nat/KUBE-SERVICES]", "jump to KUBE-SVC-XPGD46QRK7WJZT7O", "DNAT to 10.180.0.1:80", "verdict: forwarded"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
}
