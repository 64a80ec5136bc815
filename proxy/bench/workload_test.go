package bench

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	pt "github.com/svclab/svclab/proxy/proxytest"
)

const (
	tcp = corev1.ProtocolTCP
	// benchNS is the namespace of every generated Service.
	benchNS = "bench"
	// nodePortEvery gives every nodePortEvery-th Service a NodePort as well (30000 up).
	nodePortEvery = 10
)

// Addresses on proxytest's plan: Service i gets ClusterIP 172.30.0.41+i; its two
// endpoints are a node1 pod (10.180.0.x) and a node2 pod (10.180.1.x). With more than 250
// Services pods back several Services each, as a few Deployments behind many Services do;
// kube-proxy's rules are per Service and endpoint either way, so the rule count is the same
// as with distinct pods.
var (
	firstClusterIP = netip.MustParseAddr("172.30.0.41")
	node1Pods      = netip.MustParseAddr("10.180.0.0")
	node2Pods      = netip.MustParseAddr("10.180.1.0")
	node3Pods      = netip.MustParseAddr("10.180.2.0")
)

// addrAt is base + i in IPv4.
func addrAt(base netip.Addr, i int) netip.Addr {
	b := base.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// podIP is the x-th pod (1..250) of the /24 at base.
func podIP(base netip.Addr, i int) string { return addrAt(base, i%250+1).String() }

func serviceName(i int) string { return fmt.Sprintf("svc-%05d", i) }

// services returns Services from..to-1 (port p80/TCP, a NodePort on every tenth) and
// their EndpointSlices with two ready endpoints each.
func services(from, to int) []any {
	objs := make([]any, 0, 2*(to-from))
	for i := from; i < to; i++ {
		mutate := []func(*corev1.Service){pt.Port("p80", 80, tcp)}
		if i%nodePortEvery == 0 {
			mutate = append(mutate, pt.NodePort(int32(30000+i/nodePortEvery)))
		}
		objs = append(objs,
			pt.Service(benchNS, serviceName(i), addrAt(firstClusterIP, i).String(), mutate...),
			endpoints(i, node2Pods, "node2"))
	}
	return objs
}

// endpoints is Service i's slice: a node1 pod and a second pod at base on node.
func endpoints(i int, base netip.Addr, node string) *discoveryv1.EndpointSlice {
	return pt.Slice(benchNS, serviceName(i), "p80", 80, tcp,
		pt.EP{IP: podIP(node1Pods, i), Node: pt.NodeName},
		pt.EP{IP: podIP(base, i), Node: node})
}

// movedEndpoint is Service i's slice after its second endpoint moved (a pod rescheduled
// from node2 to node3); round alternates between the moved and the original slice, so
// every round is a change.
func movedEndpoint(i, round int) *discoveryv1.EndpointSlice {
	if round%2 == 1 {
		return endpoints(i, node2Pods, "node2")
	}
	return endpoints(i, node3Pods, "node3")
}
