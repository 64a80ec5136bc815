package ingress

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

func ptr[T any](v T) *T { return &v }

func TestResolveBackend(t *testing.T) {
	svcs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	slices := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = svcs.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "http", Port: 80, TargetPort: intstr.FromString("web")},
		{Name: "admin", Port: 9000, TargetPort: intstr.FromInt32(9001)},
	}}})
	_ = svcs.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}})
	slice := func(name string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps}
	}
	ports := []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}, {Name: ptr("admin"), Port: ptr(int32(9001))}}
	_ = slices.Add(slice("web-1", ports,
		discoveryv1.Endpoint{Addresses: []string{"10.244.1.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
		discoveryv1.Endpoint{Addresses: []string{"10.244.2.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Terminating: ptr(true)}},
		discoveryv1.Endpoint{Addresses: []string{"10.244.3.5"}}))
	// Pods of an older revision with another port number in their own slice.
	_ = slices.Add(slice("web-2", []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8081))}},
		discoveryv1.Endpoint{Addresses: []string{"10.244.1.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}))
	sl, esl := corelisters.NewServiceLister(svcs), discoverylisters.NewEndpointSliceLister(slices)
	for _, tc := range []struct {
		b    Backend
		want []string
	}{
		{Backend{Namespace: "default", Service: "web", Port: 80}, []string{"10.244.1.5:8080", "10.244.1.9:8081", "10.244.3.5:8080"}},
		{Backend{Namespace: "default", Service: "web", PortName: "http"}, []string{"10.244.1.5:8080", "10.244.1.9:8081", "10.244.3.5:8080"}},
		{Backend{Namespace: "default", Service: "web", PortName: "admin"}, []string{"10.244.1.5:9001", "10.244.3.5:9001"}},
		{Backend{Namespace: "default", Service: "web", Port: 81}, nil},
		{Backend{Namespace: "default", Service: "nope", Port: 80}, nil},
		{Backend{Namespace: "default", Service: "ext", Port: 80}, nil},
	} {
		if got := ResolveBackend(tc.b, sl, esl); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.b, got, tc.want)
		}
	}
}
