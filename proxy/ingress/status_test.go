package ingress

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

// runController starts Run on loopback against client and returns the HTTP base URL and the
// HTTPS address; the controller stops at the end of the test.
func runController(t *testing.T, client kubernetes.Interface) (string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Client: client, HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Recorder: record.NewFakeRecorder(100),
			OnListening: func(h, s net.Addr) { listening <- [2]net.Addr{h, s} }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case a := <-listening:
		return "http://" + a[0].String(), a[1].String()
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not start")
	}
	return "", ""
}

// webObjects are a default svclab IngressClass, an nginx one, a node and a Service "web"
// whose one ready endpoint is the loopback backend addr.
func webObjects(t *testing.T, addr string) []runtime.Object {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	return []runtime.Object{
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "svclab", Annotations: map[string]string{DefaultClassAnnotation: "true"}},
			Spec: networkingv1.IngressClassSpec{Controller: ControllerName}},
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "203.0.113.11"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(port))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}}},
	}
}

// TestControllerClearsStatusWhenIngressLeavesClass: an Ingress that moves to another
// controller's class (by ingressClassName or by the legacy annotation), or a classless one
// when our IngressClass stops being the default, stops being routed and loses the status
// address the controller wrote; an Ingress of another class that never was ours keeps its.
func TestControllerClearsStatusWhenIngressLeavesClass(t *testing.T) {
	objs := webObjects(t, backend(t, "web"))
	moves := ing("moves", 0, map[string][]string{"a.example": {"Prefix / web:80"}})
	moves.Spec.IngressClassName = ptr("svclab")
	annotated := ing("annotated", 0, map[string][]string{"b.example": {"Prefix / web:80"}})
	annotated.Annotations = map[string]string{legacyClassAnnotation: "svclab"}
	classless := ing("classless", 0, map[string][]string{"c.example": {"Prefix / web:80"}})
	foreign := ing("foreign", 0, map[string][]string{"d.example": {"Prefix / web:80"}})
	foreign.Spec.IngressClassName = ptr("nginx")
	foreign.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.11"}}
	client := fake.NewClientset(append(objs, moves, annotated, classless, foreign)...)
	base, _ := runController(t, client)
	ctx := context.Background()
	ings := client.NetworkingV1().Ingresses("default")
	c := &http.Client{Timeout: 2 * time.Second}
	status := func(name string) []networkingv1.IngressLoadBalancerIngress {
		i, err := ings.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return i.Status.LoadBalancer.Ingress
	}
	for _, name := range []string{"moves", "annotated", "classless"} {
		eventually(t, "status of "+name, func() bool { s := status(name); return len(s) == 1 && s[0].IP == "203.0.113.11" })
	}
	for _, host := range []string{"a.example", "b.example", "c.example"} {
		if code, body := get(t, c, base+"/", host); code != 200 {
			t.Errorf("%s: %d %s", host, code, body)
		}
	}

	update := func(name string, f func(*networkingv1.Ingress)) {
		i, err := ings.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f(i)
		if _, err := ings.Update(ctx, i, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	update("moves", func(i *networkingv1.Ingress) { i.Spec.IngressClassName = ptr("nginx") })
	update("annotated", func(i *networkingv1.Ingress) { i.Annotations[legacyClassAnnotation] = "nginx" })
	for _, name := range []string{"moves", "annotated"} {
		eventually(t, "status of "+name+" cleared", func() bool { return len(status(name)) == 0 })
	}
	for _, host := range []string{"a.example", "b.example"} {
		if code, _ := get(t, c, base+"/", host); code != 404 {
			t.Errorf("%s after leaving the class: %d, want 404", host, code)
		}
	}

	cls, err := client.NetworkingV1().IngressClasses().Get(ctx, "svclab", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cls.Annotations = nil
	if _, err := client.NetworkingV1().IngressClasses().Update(ctx, cls, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "status of classless cleared", func() bool { return len(status("classless")) == 0 })
	if code, _ := get(t, c, base+"/", "c.example"); code != 404 {
		t.Errorf("classless Ingress without a default class: %d, want 404", code)
	}
	if s := status("foreign"); len(s) != 1 {
		t.Errorf("another controller's Ingress lost its status: %v", s)
	}
}
