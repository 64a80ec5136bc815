package iptables

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt/ipttest"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

const tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP

func sourceRanges(r ...string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = r }
}

// representative returns the Services and EndpointSlices of the golden test, on the
// address plan of proxytest: one of each kind kube-proxy handles differently.
func representative() []any {
	return []any{
		// ClusterIP with three endpoints on three nodes.
		pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, tcp)),
		pt.Slice("ns1", "svc1", "p80", 80, tcp,
			pt.EP{IP: "10.180.0.1", Node: "node1"}, pt.EP{IP: "10.180.1.1", Node: "node2"}, pt.EP{IP: "10.180.2.1", Node: "node3"}),
		// NodePort, Cluster policy.
		pt.Service("ns2", "svc2", "172.30.0.42", pt.Port("p80", 80, tcp), pt.NodePort(3001)),
		pt.Slice("ns2", "svc2", "p80", 80, tcp, pt.EP{IP: "10.180.0.2", Node: "node1"}, pt.EP{IP: "10.180.1.2", Node: "node2"}),
		// LoadBalancer with source ranges and ClientIP affinity.
		pt.Service("ns3", "svc3", "172.30.0.43", pt.Port("p80", 80, tcp), pt.LoadBalancer("1.2.3.4"), pt.NodePort(3003),
			sourceRanges("203.0.113.0/25"), pt.Affinity(10800)),
		pt.Slice("ns3", "svc3", "p80", 80, tcp, pt.EP{IP: "10.180.0.3", Node: "node1"}, pt.EP{IP: "10.180.1.3", Node: "node2"}),
		// externalIPs.
		pt.Service("ns4", "svc4", "172.30.0.44", pt.Port("p80", 80, tcp), pt.ExternalIPs("192.168.99.11")),
		pt.Slice("ns4", "svc4", "p80", 80, tcp, pt.EP{IP: "10.180.1.4", Node: "node2"}),
		// LoadBalancer with externalTrafficPolicy Local and a local endpoint.
		pt.Service("ns5", "svc5", "172.30.0.45", pt.Port("p80", 80, tcp), pt.LoadBalancer("5.6.7.8"), pt.NodePort(3005), pt.ExternalLocal(30005)),
		pt.Slice("ns5", "svc5", "p80", 80, tcp, pt.EP{IP: "10.180.0.5", Node: "node1"}, pt.EP{IP: "10.180.1.5", Node: "node2"}),
		// NodePort with externalTrafficPolicy Local but no endpoint on this node.
		pt.Service("ns6", "svc6", "172.30.0.46", pt.Port("p80", 80, tcp), pt.NodePort(3006), pt.ExternalLocal(30006)),
		pt.Slice("ns6", "svc6", "p80", 80, tcp, pt.EP{IP: "10.180.1.6", Node: "node2"}),
		// No endpoints at all (ClusterIP and NodePort are rejected).
		pt.Service("ns7", "svc7", "172.30.0.47", pt.Port("p80", 80, tcp), pt.NodePort(3007)),
		// internalTrafficPolicy Local.
		pt.Service("ns8", "svc8", "172.30.0.48", pt.Port("p80", 80, tcp), pt.InternalLocal),
		pt.Slice("ns8", "svc8", "p80", 80, tcp, pt.EP{IP: "10.180.0.8", Node: "node1"}, pt.EP{IP: "10.180.1.8", Node: "node2"}),
		// Only terminating (still serving) endpoints left, and a not-ready one.
		pt.Service("ns9", "svc9", "172.30.0.49", pt.Port("p80", 80, tcp)),
		pt.Slice("ns9", "svc9", "p80", 80, tcp,
			pt.EP{IP: "10.180.0.9", Node: "node1", Terminating: true}, pt.EP{IP: "10.180.1.9", Node: "node2", NotReady: true}),
		// UDP, a named port whose endpoints listen elsewhere (targetPort: dns -> 5353).
		pt.Service("kube-system", "dns", "172.30.0.10", pt.Port("dns", 53, udp)),
		pt.Slice("kube-system", "dns", "dns", 5353, udp, pt.EP{IP: "10.180.0.10", Node: "node1"}, pt.EP{IP: "10.180.1.10", Node: "node2"}),
		// ClusterIP with affinity, unnamed port.
		pt.Service("ns10", "sticky", "172.30.0.50", pt.Port("", 8080, tcp), pt.Affinity(60)),
		pt.Slice("ns10", "sticky", "", 8080, tcp, pt.EP{IP: "10.180.0.11", Node: "node1"}, pt.EP{IP: "10.180.1.11", Node: "node2"}),
	}
}

// newTestProxier returns a Proxier for node1 over a fresh fake.
func newTestProxier(t *testing.T) (*Proxier, *ipttest.Fake) {
	t.Helper()
	fake := ipttest.New()
	p, err := New(pt.Config(), fake, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, fake
}

func mustSync(t *testing.T, p *Proxier, st *proxy.State) {
	t.Helper()
	if err := p.Sync(context.Background(), st); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func save(t *testing.T, f *ipttest.Fake) string {
	t.Helper()
	data, err := f.Save(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// normalize sorts what iptables does not care about, as upstream's
// assertIPTablesRulesEqual does: chain declarations by name, rules grouped by chain
// (chains by name, rule order within a chain kept).
func normalize(payload string) string {
	var out strings.Builder
	var decls []string
	rules := map[string][]string{}
	var other []string
	flush := func() {
		slices.Sort(decls)
		for _, d := range decls {
			out.WriteString(d + "\n")
		}
		var chains []string
		for c := range rules {
			chains = append(chains, c)
		}
		slices.Sort(chains)
		for _, c := range chains {
			for _, r := range rules[c] {
				out.WriteString(r + "\n")
			}
		}
		for _, o := range other {
			out.WriteString(o + "\n")
		}
		decls, rules, other = nil, map[string][]string{}, nil
	}
	for _, line := range strings.Split(payload, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "*"):
			out.WriteString(line + "\n")
		case line == "COMMIT":
			flush()
			out.WriteString("COMMIT\n")
		case strings.HasPrefix(line, ":"):
			decls = append(decls, line)
		case strings.HasPrefix(line, "-A "):
			c := strings.Fields(line)[1]
			rules[c] = append(rules[c], line)
		default:
			other = append(other, line)
		}
	}
	return out.String()
}

// checkConsistency fails on a jump to a chain that does not exist in its table and on a
// per-Service chain nothing jumps to (a leftover a sync should have deleted).
func checkConsistency(t *testing.T, save string) {
	t.Helper()
	tables, err := ParseSave(save)
	if err != nil {
		t.Fatal(err)
	}
	for name, tbl := range tables {
		used := map[string]bool{}
		for _, c := range tbl.Chains {
			for _, r := range c.Rules {
				target := ruleTarget(r.Args)
				if target == "" || builtinTargets[target] {
					continue
				}
				if tbl.Chain(target) == nil {
					t.Errorf("%s: %q jumps to undefined chain %s", name, r.Raw, target)
				}
				used[target] = true
			}
		}
		for _, c := range tbl.Chains {
			if isServiceChainName(c.Name) && !used[c.Name] {
				t.Errorf("%s: chain %s exists but nothing jumps to it", name, c.Name)
			}
		}
	}
}
