package iptables

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt/ipttest"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// TestSyncGolden renders the representative Services: the restore payload and the
// resulting tables (with the jump rules in the built-in chains) are golden files.
func TestSyncGolden(t *testing.T) {
	p, fake := newTestProxier(t)
	mustSync(t, p, pt.State(representative()...))
	if n := len(fake.Restores); n != 1 {
		t.Errorf("got %d restores, want 1 per sync", n)
	}
	pt.Golden(t, "representative", string(p.LastPayload()))
	tables := save(t, fake)
	pt.Golden(t, "representative-save", tables)
	checkConsistency(t, tables)
}

// fullEquivalent renders st from scratch (a full sync on an empty fake) and returns the
// resulting tables, the reference a partial sync must reach.
func fullEquivalent(t *testing.T, st *proxy.State) string {
	t.Helper()
	full := *st
	full.Full = true
	p, fake := newTestProxier(t)
	mustSync(t, p, &full)
	return save(t, fake)
}

// TestPartialSync changes one Service's endpoints: the payload rewrites only its chains
// (the top-level chains and the filter table are unchanged, so they stay out), deletes the
// chain of the endpoint that went away, and the kernel ends up exactly as after a full
// sync. Deleting a Service changes KUBE-SERVICES, which is then rewritten.
func TestPartialSync(t *testing.T) {
	tr := proxy.NewTracker(pt.NodeName, nil)
	objs := representative()
	pt.Feed(tr, objs...)
	p, fake := newTestProxier(t)
	mustSync(t, p, tr.Apply())

	// ns1/svc1 loses its endpoint on node3.
	pt.Feed(tr, pt.Slice("ns1", "svc1", "p80", 80, tcp, pt.EP{IP: "10.180.0.1", Node: "node1"}, pt.EP{IP: "10.180.1.1", Node: "node2"}))
	st := tr.Apply()
	if st.Full || st.Changed.Len() != 1 {
		t.Fatalf("tracker gave Full=%v Changed=%v, want one changed Service", st.Full, st.Changed)
	}
	mustSync(t, p, st)
	payload := string(p.LastPayload())

	svc1 := spn("ns1", "svc1", "p80")
	gone := EndpointChainName(svc1, "10.180.2.1:80")
	for _, want := range []string{
		chainLine(ServiceChainName(svc1)),
		chainLine(EndpointChainName(svc1, "10.180.0.1:80")),
		chainLine(gone), "-X " + gone,
		`-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ`,
	} {
		if !strings.Contains(payload, want) {
			t.Errorf("partial payload lacks %q", want)
		}
	}
	// KUBE-SERVICES still jumps to the same KUBE-SVC chain, and no filter rule changed.
	for _, unchanged := range []string{"*filter", chainLine(kubeServicesChain), chainLine(kubePostroutingChain), `"ns2/svc2:p80 cluster IP"`} {
		if strings.Contains(payload, unchanged) {
			t.Errorf("partial payload rewrites unchanged %q:\n%s", unchanged, payload)
		}
	}
	for _, other := range []string{ServiceChainName(spn("ns2", "svc2", "p80")), ExternalChainName(spn("ns3", "svc3", "p80")), "KUBE-SEP-" + "x"} {
		if strings.Contains(payload, ":"+other) {
			t.Errorf("partial payload rewrites %s of an unchanged Service", other)
		}
	}
	if got, want := normalize(save(t, fake)), normalize(fullEquivalent(t, st)); got != want {
		t.Errorf("after the partial sync the tables differ from a full sync:\n%s", pt.LineDiff(want, got))
	}
	checkConsistency(t, save(t, fake))

	// Deleting a Service deletes all of its chains.
	tr.OnServiceDelete(pt.Service("ns3", "svc3", "172.30.0.43"))
	st = tr.Apply()
	mustSync(t, p, st)
	payload = string(p.LastPayload())
	for _, want := range []string{chainLine(kubeServicesChain), chainLine(kubeNodePortsChain), `"ns2/svc2:p80 cluster IP"`} {
		if !strings.Contains(payload, want) {
			t.Errorf("payload after a Service deletion lacks %q", want)
		}
	}
	for _, c := range []string{ServiceChainName(spn("ns3", "svc3", "p80")), ExternalChainName(spn("ns3", "svc3", "p80")), FirewallChainName(spn("ns3", "svc3", "p80"))} {
		if !strings.Contains(payload, "-X "+c+"\n") {
			t.Errorf("payload does not delete %s of the deleted Service", c)
		}
	}
	if strings.Contains(save(t, fake), "ns3/svc3") {
		t.Errorf("rules of the deleted Service remain:\n%s", save(t, fake))
	}
	if got, want := normalize(save(t, fake)), normalize(fullEquivalent(t, st)); got != want {
		t.Errorf("after deleting a Service the tables differ from a full sync:\n%s", pt.LineDiff(want, got))
	}
	checkConsistency(t, save(t, fake))
}

const otherPrograms = `*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
*filter
:CNI-FORWARD - [0:0]
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -s 10.180.0.0/24 -j ACCEPT
COMMIT
`

// TestOtherProgramsRulesSurvive: syncs (full and partial) and Cleanup keep other
// programs' chains and their rules in the built-in chains.
func TestOtherProgramsRulesSurvive(t *testing.T) {
	fake := ipttest.New()
	if err := fake.Restore(context.Background(), []byte(otherPrograms)); err != nil {
		t.Fatal(err)
	}
	p, err := New(pt.Config(), fake, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, representative()...)
	mustSync(t, p, tr.Apply())
	pt.Feed(tr, pt.Slice("ns2", "svc2", "p80", 80, tcp, pt.EP{IP: "10.180.0.2", Node: "node1"}))
	mustSync(t, p, tr.Apply())
	check := func(when string) {
		got := save(t, fake)
		for _, want := range []string{
			":DOCKER - [0:0]", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
			"-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE", "-A DOCKER -i docker0 -j RETURN",
			":CNI-FORWARD - [0:0]", "-j CNI-FORWARD", "-A CNI-FORWARD -s 10.180.0.0/24 -j ACCEPT",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: %q is gone:\n%s", when, want, got)
			}
		}
	}
	check("after syncs")
	if err := p.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("after Cleanup")
	if got := save(t, fake); strings.Contains(got, "KUBE-") {
		t.Errorf("Cleanup left KUBE- rules:\n%s", got)
	}
}

// TestCleanupRemovesEveryMode removes iptables, ipvs and userspace leftovers.
func TestCleanupRemovesEveryMode(t *testing.T) {
	fake := ipttest.New()
	leftovers := `*nat
:KUBE-PORTALS-CONTAINER - [0:0]
:KUBE-PORTALS-HOST - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
:KUBE-IPVS-FILTER - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-SERVICES -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-PORTALS-CONTAINER -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 36000
COMMIT
*filter
:KUBE-FORWARD - [0:0]
:KUBE-IPVS-FILTER - [0:0]
COMMIT
`
	ctx := context.Background()
	if err := fake.Restore(ctx, []byte(leftovers)); err != nil {
		t.Fatal(err)
	}
	// Jumps from built-in chains are made with `iptables -I` by every mode (the fake
	// keeps restored rules with their quotes, so they are added the same way here).
	for _, j := range []struct {
		table, chain string
		rule         []string
	}{
		{"nat", "PREROUTING", []string{"-m", "comment", "--comment", "handle ClusterIPs; NOTE: this must be before the NodePort rules", "-j", "KUBE-PORTALS-CONTAINER"}},
		{"nat", "OUTPUT", []string{"-m", "comment", "--comment", "handle ClusterIPs; NOTE: this must be before the NodePort rules", "-j", "KUBE-PORTALS-HOST"}},
		{"nat", "PREROUTING", []string{"-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"}},
		{"filter", "FORWARD", []string{"-m", "comment", "--comment", "kubernetes forwarding rules", "-j", "KUBE-FORWARD"}},
		{"filter", "INPUT", []string{"-j", "KUBE-IPVS-FILTER"}},
	} {
		if _, err := fake.EnsureRule(ctx, j.table, j.chain, j.rule...); err != nil {
			t.Fatal(err)
		}
	}
	if err := CleanupRules(context.Background(), fake); err != nil {
		t.Fatal(err)
	}
	if got := save(t, fake); strings.Contains(got, "KUBE-") {
		t.Errorf("Cleanup left KUBE- rules:\n%s", got)
	}
}

// TestFailedRestoreForcesFullSync: after a failed restore the next sync rewrites
// everything even if the State says partial.
func TestFailedRestoreForcesFullSync(t *testing.T) {
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, representative()...)
	p, fake := newTestProxier(t)
	mustSync(t, p, tr.Apply())
	fake.Err = errors.New("iptables-restore: line 3 failed")
	pt.Feed(tr, pt.Slice("ns1", "svc1", "p80", 80, tcp, pt.EP{IP: "10.180.0.1", Node: "node1"}))
	err := p.Sync(context.Background(), tr.Apply())
	if err == nil || !strings.Contains(err.Error(), "line 3 failed") {
		t.Fatalf("Sync error = %v, want the restore error", err)
	}
	pt.Feed(tr, pt.Slice("ns1", "svc1", "p80", 80, tcp, pt.EP{IP: "10.180.0.1", Node: "node1"}, pt.EP{IP: "10.180.0.7", Node: "node1"}))
	mustSync(t, p, tr.Apply())
	if !strings.Contains(string(p.LastPayload()), ":"+ServiceChainName(spn("ns2", "svc2", "p80"))) {
		t.Error("the sync after a failure was not full")
	}
}

// TestLargeClusterModeDropsComments: above 1000 endpoints, endpoint rules lose their
// comments as upstream's do.
func TestLargeClusterModeDropsComments(t *testing.T) {
	var eps []pt.EP
	for i := range 1001 {
		eps = append(eps, pt.EP{IP: fmt.Sprintf("10.%d.%d.%d", 100+i/65536, (i/256)%256, i%256), Node: "node2"})
	}
	p, fake := newTestProxier(t)
	mustSync(t, p, pt.State(pt.Service("ns1", "big", "172.30.0.99", pt.Port("p80", 80, tcp)), pt.Slice("ns1", "big", "p80", 80, tcp, eps...)))
	payload := string(p.LastPayload())
	if strings.Contains(payload, `"ns1/big:p80 -> `) || strings.Contains(payload, "-m comment --comment ns1/big:p80 ") {
		t.Error("large cluster mode still writes endpoint comments")
	}
	if !strings.Contains(payload, "--probability 0.0009990010 ") {
		t.Error("first endpoint rule does not have probability 1/1001")
	}
	checkConsistency(t, save(t, fake))
}
