package proxy_test

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

func TestTrackerCollapsesNoOps(t *testing.T) {
	tr := proxy.NewTracker(pt.NodeName, nil)
	svc := pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, corev1.ProtocolTCP))
	pt.Feed(tr, svc, pt.Slice("ns1", "svc1", "p80", 80, corev1.ProtocolTCP, pt.EP{IP: "10.180.0.1", Node: "node1"}))
	st := tr.Apply()
	if !st.Full || len(st.Services) != 1 || len(st.Endpoints) != 1 {
		t.Fatalf("first state: full=%v services=%d endpoints=%d", st.Full, len(st.Services), len(st.Endpoints))
	}
	if tr.Pending() {
		t.Fatal("pending after Apply")
	}
	// A label change is not something the proxy renders.
	changed := svc.DeepCopy()
	changed.Labels = map[string]string{"a": "b"}
	tr.OnServiceUpdate(svc, changed)
	if tr.Pending() {
		t.Fatal("a label-only update is pending")
	}
	// A change and its undo collapse too.
	moved := svc.DeepCopy()
	moved.Spec.Ports[0].Port = 81
	tr.OnServiceUpdate(svc, moved)
	if !tr.Pending() {
		t.Fatal("port change not pending")
	}
	tr.OnServiceUpdate(moved, svc)
	if tr.Pending() {
		t.Fatal("change and undo still pending")
	}
	tr.OnServiceUpdate(svc, moved)
	st = tr.Apply()
	if st.Full || !st.Changed.Has(types.NamespacedName{Namespace: "ns1", Name: "svc1"}) || st.Changed.Len() != 1 {
		t.Fatalf("changed = %v full = %v", st.Changed.UnsortedList(), st.Full)
	}
}

func TestTrackerIgnoresHeadlessAndExternalName(t *testing.T) {
	headless := pt.Service("ns1", "headless", "None", pt.Port("p80", 80, corev1.ProtocolTCP))
	ext := pt.Service("ns1", "ext", "", pt.Port("p80", 80, corev1.ProtocolTCP))
	ext.Spec.Type = corev1.ServiceTypeExternalName
	st := pt.State(headless, ext)
	if len(st.Services) != 0 {
		t.Fatalf("services = %v", st.Services)
	}
}

func TestTrackerStaleUDP(t *testing.T) {
	tr := proxy.NewTracker(pt.NodeName, nil)
	svc := pt.Service("ns1", "dns", "172.30.0.10", pt.Port("dns", 53, corev1.ProtocolUDP))
	pt.Feed(tr, svc, pt.Slice("ns1", "dns", "dns", 53, corev1.ProtocolUDP))
	tr.Apply()
	// First endpoint: flows cached while there was none must go.
	pt.Feed(tr, pt.Slice("ns1", "dns", "dns", 53, corev1.ProtocolUDP, pt.EP{IP: "10.180.0.1"}, pt.EP{IP: "10.180.0.2"}))
	st := tr.Apply()
	want := proxy.StaleUDP{ServiceIP: netip.MustParseAddr("172.30.0.10"), Port: 53}
	if len(st.StaleUDP) != 1 || st.StaleUDP[0] != want {
		t.Fatalf("stale = %+v, want %+v", st.StaleUDP, want)
	}
	// An endpoint goes away: its flows go.
	pt.Feed(tr, pt.Slice("ns1", "dns", "dns", 53, corev1.ProtocolUDP, pt.EP{IP: "10.180.0.2"}))
	st = tr.Apply()
	want = proxy.StaleUDP{ServiceIP: netip.MustParseAddr("172.30.0.10"), Port: 53, EndpointIP: netip.MustParseAddr("10.180.0.1")}
	if len(st.StaleUDP) != 1 || st.StaleUDP[0] != want {
		t.Fatalf("stale = %+v, want %+v", st.StaleUDP, want)
	}
	// The Service goes away.
	tr.OnServiceDelete(svc)
	st = tr.Apply()
	want = proxy.StaleUDP{ServiceIP: netip.MustParseAddr("172.30.0.10"), Port: 53}
	if len(st.StaleUDP) != 1 || st.StaleUDP[0] != want || len(st.Services) != 0 {
		t.Fatalf("stale = %+v, want %+v", st.StaleUDP, want)
	}
}

func TestCategorizeEndpoints(t *testing.T) {
	local := proxy.Endpoint{IP: netip.MustParseAddr("10.180.0.1"), Port: 80, Ready: true, Serving: true, Local: true}
	remote := proxy.Endpoint{IP: netip.MustParseAddr("10.180.1.1"), Port: 80, Ready: true, Serving: true}
	termLocal := proxy.Endpoint{IP: netip.MustParseAddr("10.180.0.2"), Port: 80, Serving: true, Terminating: true, Local: true}
	notReady := proxy.Endpoint{IP: netip.MustParseAddr("10.180.0.3"), Port: 80}
	for _, tc := range []struct {
		name      string
		port      proxy.ServicePort
		eps       []proxy.Endpoint
		cluster   int
		local     int
		reachable int
		hasAny    bool
	}{
		{"cluster policy uses ready", proxy.ServicePort{}, []proxy.Endpoint{local, remote, notReady}, 2, 0, 2, true},
		{"falls back to serving terminating", proxy.ServicePort{}, []proxy.Endpoint{termLocal, notReady}, 1, 0, 1, true},
		{"nothing usable", proxy.ServicePort{}, []proxy.Endpoint{notReady}, 0, 0, 0, false},
		{"internal local", proxy.ServicePort{InternalPolicyLocal: true}, []proxy.Endpoint{local, remote}, 0, 1, 1, true},
		{"internal local none local", proxy.ServicePort{InternalPolicyLocal: true}, []proxy.Endpoint{remote}, 0, 0, 0, true},
		{"external local", proxy.ServicePort{NodePort: 30080, ExternalPolicyLocal: true}, []proxy.Endpoint{local, remote}, 2, 1, 2, true},
		{"external local terminating", proxy.ServicePort{NodePort: 30080, ExternalPolicyLocal: true}, []proxy.Endpoint{termLocal, remote}, 1, 1, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := proxy.CategorizeEndpoints(tc.eps, &tc.port)
			if len(c.Cluster) != tc.cluster || len(c.Local) != tc.local || len(c.AllReachable) != tc.reachable || c.HasAny != tc.hasAny {
				t.Fatalf("got cluster=%d local=%d reachable=%d any=%v", len(c.Cluster), len(c.Local), len(c.AllReachable), c.HasAny)
			}
		})
	}
}

func TestServicePortName(t *testing.T) {
	st := pt.State(pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, corev1.ProtocolTCP), pt.Port("", 81, corev1.ProtocolUDP)))
	var got []string
	for _, n := range st.SortedServicePorts() {
		got = append(got, n.String()+"/"+string(n.Protocol))
	}
	if len(got) != 2 || got[0] != "ns1/svc1/UDP" || got[1] != "ns1/svc1:p80/TCP" {
		t.Fatalf("names = %v", got)
	}
	if m := pt.Config().MasqueradeMark(); m != "0x4000" {
		t.Fatalf("mark = %s", m)
	}
}
