package service_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svclab/svclab/apiserver-lite/service"
)

func TestPrepareForCreate(t *testing.T) {
	svc := newSvc(func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.30.1.9"}}
	})
	service.PrepareForCreate(svc)
	if diff := cmp.Diff(corev1.ServiceStatus{}, svc.Status); diff != "" {
		t.Errorf("status not reset (-want +got):\n%s", diff)
	}
}

func TestPrepareForUpdate(t *testing.T) {
	lbStatus := corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "172.30.1.9"}}}}
	lbLocal := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = 30500
		s.Spec.Ports[0].NodePort = 30080
		s.Spec.LoadBalancerClass = ptr("example.com/lb")
		s.Status = lbStatus
	}
	tests := []struct {
		name     string
		old, svc *corev1.Service
		want     *corev1.Service
	}{{
		name: "status comes from the stored object",
		old: newSvc(func(s *corev1.Service) {
			s.Status = lbStatus
			s.Status.Conditions = []metav1.Condition{{Type: "Example"}}
		}),
		svc: newSvc(),
		// Not a LoadBalancer: the LB part of the stored status is wiped, the rest kept.
		want: newSvc(func(s *corev1.Service) { s.Status.Conditions = []metav1.Condition{{Type: "Example"}} }),
	}, {
		name: "LoadBalancer to ClusterIP wipes untouched type-dependent fields",
		old:  newSvc(lbLocal),
		svc:  newSvc(lbLocal, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP; s.Status = corev1.ServiceStatus{} }),
		want: newSvc(lbLocal, func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeClusterIP
			s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort, s.Spec.Ports[0].NodePort = "", 0, 0
			s.Spec.LoadBalancerClass, s.Spec.AllocateLoadBalancerNodePorts = nil, nil
			s.Status = corev1.ServiceStatus{}
		}),
	}, {
		name: "a new nodePort is kept for validation to reject",
		old:  newSvc(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
		svc:  newSvc(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30081 }),
		want: newSvc(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30081 }),
	}, {
		name: "ClusterIP to ExternalName wipes cluster IPs and families",
		old:  newSvc(),
		svc: newSvc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "example.com"
		}),
		want: newSvc(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = "", nil, nil, nil
		}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			service.PrepareForUpdate(tt.svc, tt.old)
			if diff := cmp.Diff(tt.want, tt.svc); diff != "" {
				t.Errorf("PrepareForUpdate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareForStatusUpdate(t *testing.T) {
	old := newSvc(withType(corev1.ServiceTypeLoadBalancer))
	svc := newSvc(func(s *corev1.Service) {
		s.Spec.Selector = map[string]string{"app": "other"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.30.1.9"}}
	})
	service.PrepareForStatusUpdate(svc, old)
	if diff := cmp.Diff(old.Spec, svc.Spec); diff != "" {
		t.Errorf("spec changed by a status update (-want +got):\n%s", diff)
	}
	if len(svc.Status.LoadBalancer.Ingress) != 1 {
		t.Errorf("status lost: %+v", svc.Status)
	}
}
