package userspace

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	pt "github.com/svclab/svclab/proxy/proxytest"
)

func TestQuote(t *testing.T) {
	if q := quote("ns1/svc1:p80"); q != `"ns1/svc1:p80"` {
		t.Fatalf("quote = %s", q)
	}
	if q := quote("plain-name_1"); q != "plain-name_1" {
		t.Fatalf("quote = %s", q)
	}
}

func TestBalancerEndpointsPolicies(t *testing.T) {
	tcp := corev1.ProtocolTCP
	eps := []pt.EP{{IP: "10.180.0.1", Node: "node1"}, {IP: "10.180.1.1", Node: "node2"}, {IP: "10.180.0.2", Node: "node1", NotReady: true}}
	for _, tc := range []struct {
		name string
		svc  func(*corev1.Service)
		eps  []pt.EP
		want []string
	}{
		{"cluster", func(*corev1.Service) {}, eps, []string{"10.180.0.1:80", "10.180.1.1:80"}},
		{"internal local", pt.InternalLocal, eps, []string{"10.180.0.1:80"}},
		{"terminating fallback", func(*corev1.Service) {}, []pt.EP{{IP: "10.180.0.3", Node: "node1", Terminating: true}}, []string{"10.180.0.3:80"}},
		{"none ready", func(*corev1.Service) {}, []pt.EP{{IP: "10.180.0.3", Node: "node1", NotReady: true}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := pt.State(pt.Service("ns1", "svc1", "172.30.0.41", pt.Port("p80", 80, tcp), tc.svc), pt.Slice("ns1", "svc1", "p80", 80, tcp, tc.eps...))
			for name, sp := range st.Services {
				got := []string{}
				for _, ap := range balancerEndpoints(st.Endpoints[name], sp) {
					got = append(got, ap.String())
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("endpoints = %v, want %v", got, tc.want)
				}
			}
		})
	}
}
