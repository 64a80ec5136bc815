package nftables

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// scenario is the representative set of Services of the golden and trace tests. The
// first six are upstream's TestOverallNFTablesRules Services, so upstream's chain names
// carry over.
func scenario() []any {
	const tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP
	sourceRanges := func(r ...string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = r }
	}
	return []any{
		// ClusterIP.
		pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, tcp)),
		pt.Slice("ns1", "svc1", "p80", 80, tcp, pt.EP{IP: "10.180.0.1"}),
		// LoadBalancer + externalIP + NodePort, externalTrafficPolicy Local, no local endpoint.
		pt.Service("ns2", "svc2", "172.30.0.42", pt.Port("p80", 80, tcp), pt.LoadBalancer("1.2.3.4"),
			pt.NodePort(3001), pt.ExternalIPs("192.168.99.22"), pt.ExternalLocal(30000)),
		pt.Slice("ns2", "svc2", "p80", 80, tcp, pt.EP{IP: "10.180.0.2"}),
		// NodePort.
		pt.Service("ns3", "svc3", "172.30.0.43", pt.Port("p80", 80, tcp), pt.NodePort(3003)),
		pt.Slice("ns3", "svc3", "p80", 80, tcp, pt.EP{IP: "10.180.0.3"}),
		// externalIP, two endpoints (one local).
		pt.Service("ns4", "svc4", "172.30.0.44", pt.Port("p80", 80, tcp), pt.ExternalIPs("192.168.99.33")),
		pt.Slice("ns4", "svc4", "p80", 80, tcp, pt.EP{IP: "10.180.0.4"}, pt.EP{IP: "10.180.0.5", Node: pt.NodeName}),
		// LoadBalancer with source ranges and ClientIP affinity.
		pt.Service("ns5", "svc5", "172.30.0.45", pt.Port("p80", 80, tcp), pt.LoadBalancer("5.6.7.8"),
			pt.NodePort(3002), sourceRanges("203.0.113.0/25"), pt.Affinity(10800)),
		pt.Slice("ns5", "svc5", "p80", 80, tcp, pt.EP{IP: "10.180.0.3"}),
		// No endpoints.
		pt.Service("ns6", "svc6", "172.30.0.46", pt.Port("p80", 80, tcp)),
		// UDP with a named target port and one not-ready endpoint.
		pt.Service("ns7", "dns", "172.30.0.47", pt.Port("dns", 53, udp)),
		pt.Slice("ns7", "dns", "dns", 5353, udp, pt.EP{IP: "10.180.0.7", Node: pt.NodeName}, pt.EP{IP: "10.180.1.7", Node: "node2"},
			pt.EP{IP: "10.180.1.77", Node: "node2", NotReady: true}),
		// NodePort with externalTrafficPolicy Local and a local endpoint.
		pt.Service("ns8", "svc8", "172.30.0.48", pt.Port("p80", 80, tcp), pt.NodePort(3008), pt.ExternalLocal(30008)),
		pt.Slice("ns8", "svc8", "p80", 80, tcp, pt.EP{IP: "10.180.0.8", Node: pt.NodeName}, pt.EP{IP: "10.180.1.8", Node: "node2"}),
		// internalTrafficPolicy Local without a local endpoint.
		pt.Service("ns9", "svc9", "172.30.0.49", pt.Port("p80", 80, tcp), pt.InternalLocal),
		pt.Slice("ns9", "svc9", "p80", 80, tcp, pt.EP{IP: "10.180.1.9", Node: "node2"}),
		// Only terminating (still serving) endpoints.
		pt.Service("ns10", "svc10", "172.30.0.50", pt.Port("p80", 80, tcp)),
		pt.Slice("ns10", "svc10", "p80", 80, tcp, pt.EP{IP: "10.180.0.10", Node: pt.NodeName, Terminating: true},
			pt.EP{IP: "10.180.1.10", Node: "node2", NotReady: true}),
	}
}

// newFakeProxier returns a Proxier for node1 of the address plan over a knftables Fake.
func newFakeProxier(t *testing.T, cfg proxy.Config) (*knftables.Fake, *Proxier) {
	t.Helper()
	nft := knftables.NewFake(knftables.IPv4Family, TableName)
	p, err := New(cfg, nft, nil)
	if err != nil {
		t.Fatal(err)
	}
	return nft, p
}

func mustSync(t *testing.T, p *Proxier, s *proxy.State) {
	t.Helper()
	if err := p.Sync(context.Background(), s); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// normalizeDump sorts the element lines of a Fake dump: element order in a set or map
// does not matter, and a partial sync adds elements in a different order.
func normalizeDump(dump string) string {
	var head, elems []string
	for _, l := range strings.Split(strings.TrimSpace(dump), "\n") {
		if strings.HasPrefix(l, "add element ") {
			elems = append(elems, l)
		} else {
			head = append(head, l)
		}
	}
	slices.Sort(elems)
	return strings.Join(append(head, elems...), "\n") + "\n"
}

// checkConsistency fails t for any jump or goto (in a rule, a vmap literal or a map
// element) to an undefined chain, and any @reference to an undefined set or map.
func checkConsistency(t *testing.T, nft *knftables.Fake) {
	t.Helper()
	table := nft.Table
	if table == nil {
		t.Fatal("no table")
	}
	checkWords := func(where, text string) {
		words := strings.Fields(strings.NewReplacer("{", " ", "}", " ", ",", " ").Replace(text))
		for i, w := range words {
			if (w == "goto" || w == "jump") && i+1 < len(words) {
				if table.Chains[words[i+1]] == nil {
					t.Errorf("%s: %s to undefined chain %q", where, w, words[i+1])
				}
			}
			if strings.HasPrefix(w, "@") {
				n := w[1:]
				if table.Sets[n] == nil && table.Maps[n] == nil {
					t.Errorf("%s: reference to undefined set or map %q", where, n)
				}
			}
		}
	}
	for name, c := range table.Chains {
		for _, r := range c.Rules {
			checkWords("chain "+name, r.Rule)
		}
	}
	for name, m := range table.Maps {
		for _, e := range m.Elements {
			checkWords("map "+name, strings.Join(e.Value, " "))
		}
	}
	// Every per-Service chain must be reachable: an orphan is a stale chain we failed to
	// delete.
	dump := nft.Dump()
	for name := range table.Chains {
		if isServiceChainName(name) && !strings.Contains(dump, "goto "+name) && !strings.Contains(dump, "jump "+name) {
			t.Errorf("chain %q is not referenced by anything (stale)", name)
		}
	}
}

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
