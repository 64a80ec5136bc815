package iptables

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/svclab/svclab/proxy"
)

func spn(ns, name, port string) proxy.ServicePortName {
	return proxy.ServicePortName{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}, Port: port, Protocol: tcp}
}

// TestChainNamesMatchUpstream checks the hashes against upstream kube-proxy's own test
// expectations (pkg/proxy/iptables/proxier_test.go, TestOverallIPTablesRules).
func TestChainNamesMatchUpstream(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ServiceChainName(spn("ns1", "svc1", "p80")), "KUBE-SVC-XPGD46QRK7WJZT7O"},
		{LocalChainName(spn("ns1", "svc1", "p80")), "KUBE-SVL-XPGD46QRK7WJZT7O"},
		{ExternalChainName(spn("ns2", "svc2", "p80")), "KUBE-EXT-GNZBNJ2PO5MGZ6GT"},
		{ServiceChainName(spn("ns3", "svc3", "p80")), "KUBE-SVC-X27LE4BHSL4DOUIK"},
		{ServiceChainName(spn("ns4", "svc4", "p80")), "KUBE-SVC-4SW47YFZTEDKD3PK"},
		{FirewallChainName(spn("ns5", "svc5", "p80")), "KUBE-FW-NUKIZ6OKUXPJNT4C"},
		{EndpointChainName(spn("ns1", "svc1", "p80"), "10.180.0.1:80"), "KUBE-SEP-SXIVWICOYRO3J4NJ"},
		{EndpointChainName(spn("ns2", "svc2", "p80"), "10.180.0.2:80"), "KUBE-SEP-RS4RBKLTHTF2IUXJ"},
		{EndpointChainName(spn("ns3", "svc3", "p80"), "10.180.0.3:80"), "KUBE-SEP-OYPFS5VJICHGATKP"},
		{EndpointChainName(spn("ns4", "svc4", "p80"), "10.180.0.4:80"), "KUBE-SEP-UKSFD7AGPMPPLUHC"},
		{EndpointChainName(spn("ns4", "svc4", "p80"), "10.180.0.5:80"), "KUBE-SEP-C6EBXVWJJZMIWKLZ"},
		{EndpointChainName(spn("ns5", "svc5", "p80"), "10.180.0.3:80"), "KUBE-SEP-I77PXRDZVX7PMWMN"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestComputeProbability(t *testing.T) {
	for n, want := range map[int]string{2: "0.5000000000", 3: "0.3333333333", 7: "0.1428571429"} {
		if got := computeProbability(n); got != want {
			t.Errorf("computeProbability(%d) = %s, want %s", n, got, want)
		}
	}
}
