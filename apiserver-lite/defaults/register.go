package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RegisterDefaults adds a defaulting function for every served type that Kubernetes defaults,
// and for its list type. corev1.Service is deliberately absent: Service defaulting lives in the
// service package, next to allocation.
func RegisterDefaults(s *runtime.Scheme) error {
	// core/v1
	register(s, PodObject, func(l *corev1.PodList) []corev1.Pod { return l.Items })
	register(s, PodTemplateObject, func(l *corev1.PodTemplateList) []corev1.PodTemplate { return l.Items })
	register(s, ReplicationControllerObject, func(l *corev1.ReplicationControllerList) []corev1.ReplicationController { return l.Items })
	register(s, NamespaceObject, func(l *corev1.NamespaceList) []corev1.Namespace { return l.Items })
	register(s, NodeObject, func(l *corev1.NodeList) []corev1.Node { return l.Items })
	register(s, EndpointsObject, func(l *corev1.EndpointsList) []corev1.Endpoints { return l.Items })
	register(s, SecretObject, func(l *corev1.SecretList) []corev1.Secret { return l.Items })
	register(s, ConfigMapObject, func(l *corev1.ConfigMapList) []corev1.ConfigMap { return l.Items })
	// apps/v1
	register(s, DeploymentObject, func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items })
	register(s, ReplicaSetObject, func(l *appsv1.ReplicaSetList) []appsv1.ReplicaSet { return l.Items })
	register(s, DaemonSetObject, func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items })
	register(s, StatefulSetObject, func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items })
	// discovery/v1
	register(s, EndpointSliceObject, func(l *discoveryv1.EndpointSliceList) []discoveryv1.EndpointSlice { return l.Items })
	// networking/v1
	register(s, IngressClassObject, func(l *networkingv1.IngressClassList) []networkingv1.IngressClass { return l.Items })
	register(s, NetworkPolicyObject, func(l *networkingv1.NetworkPolicyList) []networkingv1.NetworkPolicy { return l.Items })
	return nil
}

// register adds defaulting for *T and for its list type *L.
func register[T any, L any, PT interface {
	*T
	runtime.Object
}, PL interface {
	*L
	runtime.Object
}](s *runtime.Scheme, fn func(*T), items func(*L) []T) {
	s.AddTypeDefaultingFunc(PT(new(T)), func(obj interface{}) { fn(obj.(*T)) })
	s.AddTypeDefaultingFunc(PL(new(L)), func(obj interface{}) {
		list := items(obj.(*L))
		for i := range list {
			fn(&list[i])
		}
	})
}
