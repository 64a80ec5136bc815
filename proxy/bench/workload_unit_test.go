package bench

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// TestWorkload checks the generated Services and that moving one endpoint gives a
// non-full State naming only that Service.
func TestWorkload(t *testing.T) {
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, services(0, 1000)...)
	full := tr.Apply()
	if !full.Full || len(full.Services) != 1000 || len(full.Endpoints) != 1000 {
		t.Fatalf("full state: full=%v, %d ports, %d with endpoints; want true, 1000, 1000",
			full.Full, len(full.Services), len(full.Endpoints))
	}
	nodePorts := 0
	for name, sp := range full.Services {
		if sp.NodePort != 0 {
			nodePorts++
		}
		if eps := full.Endpoints[name]; len(eps) != 2 || !eps[0].Ready || !eps[1].Ready {
			t.Fatalf("%s: endpoints %v, want two ready", name, eps)
		}
	}
	if nodePorts != 100 {
		t.Errorf("%d NodePorts, want 100", nodePorts)
	}
	if got := full.Services[proxy.ServicePortName{NamespacedName: types.NamespacedName{Namespace: benchNS, Name: serviceName(999)}, Port: "p80", Protocol: tcp}]; got == nil || got.ClusterIP.String() != "172.30.4.16" {
		t.Errorf("ClusterIP of Service 999: %v, want 172.30.4.16", got)
	}
	for round := range 3 {
		pt.Feed(tr, movedEndpoint(500, round))
		st := tr.Apply()
		want := types.NamespacedName{Namespace: benchNS, Name: serviceName(500)}
		if st.Full || st.Changed.Len() != 1 || !st.Changed.Has(want) {
			t.Fatalf("round %d: full=%v changed=%v, want a partial sync of %s", round, st.Full, st.Changed.UnsortedList(), want)
		}
	}
}
