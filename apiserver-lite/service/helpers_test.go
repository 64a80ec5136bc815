package service_test

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svclab/svclab/apiserver-lite/service"
)

// Test address plan: service CIDR 10.96.0.0/12 (kubernetes = 10.96.0.1, kube-dns =
// 10.96.0.10), node ports 30000-32767, outside addresses from 203.0.113.0/24.

// newSvc returns a defaulted ClusterIP Service "web" in "default" with one port, as it would
// look after allocation; mutate adjusts it.
func newSvc(mutate ...func(*corev1.Service)) *corev1.Service {
	single := corev1.IPFamilyPolicySingleStack
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector:       map[string]string{"app": "web"},
			Ports:          []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
			ClusterIP:      "10.96.0.20",
			ClusterIPs:     []string{"10.96.0.20"},
			IPFamilies:     []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy: &single,
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	service.SetDefaults(svc)
	return svc
}

// bare returns an undefaulted, unallocated Service as a client would send it.
func bare(mutate ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	service.SetDefaults(svc)
	return svc
}

func withType(t corev1.ServiceType) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Type = t }
}

func ptr[T any](v T) *T { return &v }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
