package service_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svclab/svclab/apiserver-lite/service"
)

func TestSetDefaults(t *testing.T) {
	cluster := corev1.ServiceInternalTrafficPolicyCluster
	vip := corev1.LoadBalancerIPModeVIP
	tests := []struct {
		name string
		in   corev1.Service
		want corev1.Service
	}{{
		name: "empty ClusterIP",
		in:   corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}, {Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}}}},
		want: corev1.Service{Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			SessionAffinity:       corev1.ServiceAffinityNone,
			InternalTrafficPolicy: &cluster,
			Ports: []corev1.ServicePort{
				{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
				{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
			},
		}},
	}, {
		name: "ClientIP affinity gets the 3 hour timeout",
		in:   corev1.Service{Spec: corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP}},
		want: corev1.Service{Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			SessionAffinity:       corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(10800))}},
			InternalTrafficPolicy: &cluster,
		}},
	}, {
		name: "None affinity drops a config",
		in:   corev1.Service{Spec: corev1.ServiceSpec{SessionAffinityConfig: &corev1.SessionAffinityConfig{}}},
		want: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone, InternalTrafficPolicy: &cluster}},
	}, {
		name: "NodePort gets externalTrafficPolicy Cluster",
		in:   corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}},
		want: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, SessionAffinity: corev1.ServiceAffinityNone,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, InternalTrafficPolicy: &cluster}},
	}, {
		name: "ClusterIP with externalIPs is externally accessible",
		in:   corev1.Service{Spec: corev1.ServiceSpec{ExternalIPs: []string{"203.0.113.7"}}},
		want: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone, ExternalIPs: []string{"203.0.113.7"},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, InternalTrafficPolicy: &cluster}},
	}, {
		name: "LoadBalancer allocates node ports and ingress IPs are VIPs",
		in: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "172.30.1.1"}, {Hostname: "lb.example"}}}}},
		want: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityNone,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, InternalTrafficPolicy: &cluster, AllocateLoadBalancerNodePorts: ptr(true)},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "172.30.1.1", IPMode: &vip}, {Hostname: "lb.example"}}}}},
	}, {
		name: "ExternalName gets no traffic policies",
		in:   corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
		want: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com", SessionAffinity: corev1.ServiceAffinityNone}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.DeepCopy()
			service.SetDefaults(got)
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("SetDefaults() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
