package ingress

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var corev1TypedRef = corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}

func TestOurs(t *testing.T) {
	str := func(s string) *string { return &s }
	ours := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "lab"}, Spec: networkingv1.IngressClassSpec{Controller: ControllerName}}
	dflt := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "svclab", Annotations: map[string]string{DefaultClassAnnotation: "true"}}, Spec: networkingv1.IngressClassSpec{Controller: ControllerName}}
	nginx := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}
	mk := func(class *string, ann string) *networkingv1.Ingress {
		i := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{IngressClassName: class}}
		if ann != "" {
			i.Annotations = map[string]string{legacyClassAnnotation: ann}
		}
		return i
	}
	for _, tc := range []struct {
		name    string
		ing     *networkingv1.Ingress
		classes []*networkingv1.IngressClass
		want    bool
	}{
		{"class name", mk(str("svclab"), ""), nil, true},
		{"class with our controller", mk(str("lab"), ""), []*networkingv1.IngressClass{ours}, true},
		{"other controller", mk(str("nginx"), ""), []*networkingv1.IngressClass{nginx, ours}, false},
		{"unknown class", mk(str("traefik"), ""), nil, false},
		{"legacy annotation", mk(nil, "svclab"), nil, true},
		{"no class, we are default", mk(nil, ""), []*networkingv1.IngressClass{nginx, dflt}, true},
		{"no class, no default", mk(nil, ""), []*networkingv1.IngressClass{ours, nginx}, false},
	} {
		if got := Ours(tc.ing, "svclab", tc.classes); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
