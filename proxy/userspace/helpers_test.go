package userspace

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt/ipttest"
	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/userspace/userspacetest"
)

// testState is the unit tests' cluster on the shared address plan:
//   - ns1/svc1:p80  TCP ClusterIP 172.30.0.41, two endpoints (one on another node)
//   - ns2/svc2:p53  UDP NodePort 3001, one endpoint
//   - ns3/svc3:p80  TCP LoadBalancer 1.2.3.4 with externalIP 192.168.99.11, NodePort 3003
//   - ns4/svc4:p80  TCP ClusterIP without endpoints
//   - ns5/svc5:p80  TCP ClientIP affinity (timeout 600s), two endpoints
func testState() *proxy.State {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	return pt.State(
		pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, tcp)),
		pt.Slice("ns1", "svc1", "p80", 80, tcp, pt.EP{IP: "10.180.0.1", Node: "node1"}, pt.EP{IP: "10.180.1.1", Node: "node2"}),
		pt.Service("ns2", "svc2", "172.30.0.42", pt.Port("p53", 53, udp), pt.NodePort(3001)),
		pt.Slice("ns2", "svc2", "p53", 53, udp, pt.EP{IP: "10.180.0.2", Node: "node1"}),
		pt.Service("ns3", "svc3", "172.30.0.43", pt.Port("p80", 80, tcp), pt.NodePort(3003), pt.LoadBalancer("1.2.3.4"), pt.ExternalIPs("192.168.99.11")),
		pt.Slice("ns3", "svc3", "p80", 8080, tcp, pt.EP{IP: "10.180.0.3", Node: "node1"}, pt.EP{IP: "10.180.0.4", Node: "node1", NotReady: true}),
		pt.Service("ns4", "svc4", "172.30.0.44", pt.Port("p80", 80, tcp)),
		pt.Service("ns5", "svc5", "172.30.0.45", pt.Port("p80", 80, tcp), pt.Affinity(600)),
		pt.Slice("ns5", "svc5", "p80", 80, tcp, pt.EP{IP: "10.180.0.5", Node: "node1"}, pt.EP{IP: "10.180.1.5", Node: "node2"}),
	)
}

// newFakeProxier is a Proxier on node1 with fake iptables and fake sockets (ports 36000,
// 36001, ... in Service order).
func newFakeProxier(t *testing.T, opts Options) (*Proxier, *ipttest.Fake) {
	t.Helper()
	fake := ipttest.New()
	if opts.Listener == nil {
		opts.Listener = &userspacetest.Listener{}
	}
	p, err := New(pt.Config(), fake, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, fake
}

func save(t *testing.T, fake *ipttest.Fake) string {
	t.Helper()
	data, err := fake.Save(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// findName returns the ServicePortName whose String is s.
func (p *Proxier) findName(t *testing.T, s string) proxy.ServicePortName {
	t.Helper()
	for n := range testState().Services {
		if n.String() == s {
			return n
		}
	}
	t.Fatalf("no service port %s in testState", s)
	return proxy.ServicePortName{}
}
