package nftables

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/trace"
)

// liveScenario is the scenario as `nft list table ip kube-proxy` prints it. It is written
// by TestPrivilegedNFTables -update from a real kernel, so the tracer reads the real
// format (which differs from knftables' Fake dump).
func liveScenario(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "scenario.live.nft"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var node1 = NodeInfo{Addrs: []netip.Addr{pt.NodeIP, pt.NodeIPAlt}}

// packetFlow is one row of a packet flow table (upstream's packetFlowTest): the packet,
// the endpoints it may reach ("" for none), and the verdict and masquerade expected.
type packetFlow struct {
	name       string
	origin     trace.Origin
	src        string
	dst        string // ip:port
	proto      string
	endpoints  string // comma-separated ip:port, sorted
	verdict    trace.Verdict
	masquerade bool
}

// scenarioFlows are the flows of the scenario's Services.
var scenarioFlows = []packetFlow{
	{"clusterIP from pod", trace.FromNetwork, "10.180.0.2", "172.30.0.41:80", "tcp", "10.180.0.1:80", trace.Forwarded, false},
	{"clusterIP from node", trace.FromNode, "192.168.0.2", "172.30.0.41:80", "tcp", "10.180.0.1:80", trace.Forwarded, true},
	{"clusterIP from outside", trace.FromNetwork, "203.0.113.9", "172.30.0.41:80", "tcp", "10.180.0.1:80", trace.Forwarded, true},
	{"hairpin", trace.FromNetwork, "10.180.0.1", "172.30.0.41:80", "tcp", "10.180.0.1:80", trace.Forwarded, true},
	{"clusterIP, wrong port", trace.FromNetwork, "10.180.0.2", "172.30.0.41:81", "tcp", "", trace.Rejected, false},
	{"clusterIP, wrong protocol", trace.FromNetwork, "10.180.0.2", "172.30.0.41:80", "udp", "", trace.Rejected, false},
	{"two endpoints", trace.FromNetwork, "10.180.0.2", "172.30.0.44:80", "tcp", "10.180.0.4:80,10.180.0.5:80", trace.Forwarded, false},
	{"nodePort from outside", trace.FromNetwork, "203.0.113.9", "192.168.0.2:3003", "tcp", "10.180.0.3:80", trace.Forwarded, true},
	{"nodePort on second node address", trace.FromNetwork, "203.0.113.9", "192.168.1.2:3003", "tcp", "10.180.0.3:80", trace.Forwarded, true},
	{"nodePort from node", trace.FromNode, "192.168.0.2", "192.168.0.2:3003", "tcp", "10.180.0.3:80", trace.Forwarded, true},
	{"nodePort on loopback is not proxied", trace.FromNode, "127.0.0.1", "127.0.0.1:3003", "tcp", "", trace.Untouched, false},
	{"nodePort Local with local endpoint", trace.FromNetwork, "203.0.113.9", "192.168.0.2:3008", "tcp", "10.180.0.8:80", trace.Forwarded, false},
	{"nodePort Local from pod short-circuits", trace.FromNetwork, "10.180.0.2", "192.168.0.2:3008", "tcp", "10.180.0.8:80,10.180.1.8:80", trace.Forwarded, false},
	{"nodePort Local from node", trace.FromNode, "192.168.0.2", "192.168.0.2:3008", "tcp", "10.180.0.8:80,10.180.1.8:80", trace.Forwarded, true},
	{"nodePort Local without local endpoint", trace.FromNetwork, "203.0.113.9", "192.168.0.2:3001", "tcp", "", trace.Dropped, false},
	{"no endpoints from pod", trace.FromNetwork, "10.180.0.2", "172.30.0.46:80", "tcp", "", trace.Rejected, false},
	{"no endpoints from node", trace.FromNode, "192.168.0.2", "172.30.0.46:80", "tcp", "", trace.Rejected, false},
	{"LB IP, Local, no local endpoint", trace.FromNetwork, "203.0.113.9", "1.2.3.4:80", "tcp", "", trace.Dropped, false},
	{"LB IP, Local, from pod", trace.FromNetwork, "10.180.0.9", "1.2.3.4:80", "tcp", "10.180.0.2:80", trace.Forwarded, false},
	{"LB IP, source range allowed", trace.FromNetwork, "203.0.113.9", "5.6.7.8:80", "tcp", "10.180.0.3:80", trace.Forwarded, true},
	{"LB IP, source range denied", trace.FromNetwork, "203.0.113.200", "5.6.7.8:80", "tcp", "", trace.Dropped, false},
	{"external IP", trace.FromNetwork, "203.0.113.9", "192.168.99.33:80", "tcp", "10.180.0.4:80,10.180.0.5:80", trace.Forwarded, true},
	{"external IP, Local, no local endpoint", trace.FromNetwork, "203.0.113.9", "192.168.99.22:80", "tcp", "", trace.Dropped, false},
	{"UDP with named target port", trace.FromNetwork, "10.180.0.2", "172.30.0.47:53", "udp", "10.180.0.7:5353,10.180.1.7:5353", trace.Forwarded, false},
	{"internal Local, no local endpoint", trace.FromNetwork, "10.180.0.2", "172.30.0.49:80", "tcp", "", trace.Dropped, false},
	{"terminating endpoint", trace.FromNetwork, "10.180.0.2", "172.30.0.50:80", "tcp", "10.180.0.10:80", trace.Forwarded, false},
	{"not a service", trace.FromNetwork, "10.180.0.2", "10.180.1.5:80", "tcp", "", trace.Untouched, false},
}

// checkFlows traces every flow over ruleset.
func checkFlows(t *testing.T, ruleset string, flows []packetFlow) {
	t.Helper()
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			dst := netip.MustParseAddrPort(f.dst)
			pkt := trace.Packet{Origin: f.origin, Src: netip.MustParseAddr(f.src), SrcPort: 40000,
				Dst: dst.Addr(), DstPort: int(dst.Port()), Protocol: f.proto}
			res, err := Trace(ruleset, pkt, node1)
			if err != nil {
				t.Fatal(err)
			}
			var eps []string
			sum := 0.0
			for _, c := range res.Choices {
				eps = append(eps, c.Endpoint.String())
				sum += c.Probability
			}
			slices.Sort(eps)
			eps = slices.Compact(eps)
			if got := strings.Join(eps, ","); got != f.endpoints || res.Verdict != f.verdict || res.Masquerade != f.masquerade {
				t.Errorf("got endpoints %q verdict %s masquerade %v, want %q %s %v\n%s", got, res.Verdict, res.Masquerade,
					f.endpoints, f.verdict, f.masquerade, res)
			}
			if len(res.Choices) > 0 && math.Abs(sum-1) > 1e-9 {
				t.Errorf("probabilities add up to %v\n%s", sum, res)
			}
		})
	}
}

func TestTraceScenario(t *testing.T) {
	checkFlows(t, liveScenario(t), scenarioFlows)
}

// TestTraceGolden keeps a few whole walks as text, as the CLI prints them.
func TestTraceGolden(t *testing.T) {
	var b strings.Builder
	for _, p := range []trace.Packet{
		{Origin: trace.FromNetwork, Src: netip.MustParseAddr("10.180.0.2"), SrcPort: 40000, Dst: netip.MustParseAddr("172.30.0.44"), DstPort: 80, Protocol: "tcp"},
		{Origin: trace.FromNetwork, Src: pt.OutsideIP, SrcPort: 40000, Dst: pt.NodeIP, DstPort: 3008, Protocol: "tcp"},
		{Origin: trace.FromNode, Src: pt.NodeIP, Dst: netip.MustParseAddr("172.30.0.46"), DstPort: 80, Protocol: "tcp"},
		{Origin: trace.FromNetwork, Src: netip.MustParseAddr("10.180.0.2"), SrcPort: 40000, Dst: netip.MustParseAddr("172.30.0.45"), DstPort: 80, Protocol: "tcp"},
	} {
		res, err := Trace(liveScenario(t), p, node1)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s\n", res)
	}
	pt.Golden(t, "trace", b.String())
}

// TestTraceAffinity checks that a client already in an affinity set skips the random
// choice.
func TestTraceAffinity(t *testing.T) {
	set := "set affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 {"
	live := strings.Replace(liveScenario(t), "\t\ttimeout 3h\n", "\t\ttimeout 3h\n\t\telements = { 10.180.0.9 timeout 3h expires 2h59m58s }\n", 1)
	if !strings.Contains(live, set) || !strings.Contains(live, "10.180.0.9 timeout") {
		t.Fatal("testdata has no affinity set to edit")
	}
	pkt := trace.Packet{Origin: trace.FromNetwork, Src: netip.MustParseAddr("10.180.0.9"), Dst: netip.MustParseAddr("172.30.0.45"), DstPort: 80, Protocol: "tcp"}
	res, err := Trace(live, pkt, node1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != trace.Forwarded || len(res.Choices) != 1 || res.Affinity == "" || strings.Contains(res.String(), "numgen") {
		t.Errorf("returning client did not follow its affinity:\n%s", res)
	}
}

// TestTraceErrors checks that garbage is refused with a useful message.
func TestTraceErrors(t *testing.T) {
	if _, err := Trace("hello", trace.Packet{}, node1); err == nil || !strings.Contains(err.Error(), "nft") {
		t.Errorf("got %v", err)
	}
}
