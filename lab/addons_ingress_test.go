package lab

import (
	"context"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svclab/svclab/proxy/ingress"
)

// TestEnsureIngressClass: svclab's IngressClass is the default only when no other is.
func TestEnsureIngressClass(t *testing.T) {
	nginx := func(def bool) *networkingv1.IngressClass {
		c := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}
		if def {
			c.Annotations = map[string]string{ingress.DefaultClassAnnotation: "true"}
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		other *networkingv1.IngressClass
		want  bool
	}{
		{"alone", nil, true},
		{"another class, not default", nginx(false), true},
		{"another default class", nginx(true), false},
	} {
		c := fake.NewClientset()
		if tc.other != nil {
			c = fake.NewClientset(tc.other)
		}
		if err := ensureIngressClass(context.Background(), c); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := c.NetworkingV1().IngressClasses().Get(context.Background(), "svclab", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if def := got.Annotations[ingress.DefaultClassAnnotation] == "true"; def != tc.want || got.Spec.Controller != ingress.ControllerName {
			t.Errorf("%s: default %v controller %s, want default %v", tc.name, def, got.Spec.Controller, tc.want)
		}
	}
}
