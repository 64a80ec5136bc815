package ingress

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

// eventually polls f for up to 3 s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestControllerRun(t *testing.T) {
	addr := backend(t, "web")
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)

	classed := func(i *networkingv1.Ingress, class string) *networkingv1.Ingress {
		if class != "" {
			i.Spec.IngressClassName = &class
		}
		return i
	}
	client := fake.NewClientset(
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "svclab", Annotations: map[string]string{DefaultClassAnnotation: "true"}},
			Spec: networkingv1.IngressClassSpec{Controller: ControllerName}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "203.0.113.11"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(port))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}}},
		ing("older", 1, map[string][]string{"a.example": {"Prefix / web:80"}}),
		classed(ing("newer", 2, map[string][]string{"a.example": {"Prefix / other:80"}}), "svclab"),
		classed(ing("nginx", 0, map[string][]string{"b.example": {"Prefix / web:80"}}), "nginx"),
	)
	rec := record.NewFakeRecorder(10)
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Client: client, HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Recorder: rec,
			OnListening: func(h, s net.Addr) { listening <- [2]net.Addr{h, s} }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var base, tlsAddr string
	select {
	case a := <-listening:
		base, tlsAddr = "http://"+a[0].String(), a[1].String()
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not start")
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if status, body := get(t, c, base+"/x", "a.example"); status != 200 || !strings.HasPrefix(body, "web host=a.example") {
		t.Errorf("a.example: %d %s", status, body)
	}
	if status, _ := get(t, c, base+"/", "b.example"); status != 404 {
		t.Errorf("b.example (another class): %d, want 404", status)
	}
	select {
	case ev := <-rec.Events:
		if !strings.HasPrefix(ev, "Warning Conflict rule a.example / (Prefix) ignored: Ingress default/older routes it to default/web:80") {
			t.Errorf("event %q", ev)
		}
	case <-time.After(time.Second):
		t.Error("no conflict Event")
	}
	eventually(t, "status of default/older", func() bool {
		i, err := client.NetworkingV1().Ingresses("default").Get(ctx, "older", metav1.GetOptions{})
		return err == nil && len(i.Status.LoadBalancer.Ingress) == 1 && i.Status.LoadBalancer.Ingress[0].IP == "203.0.113.11"
	})

	// A new Ingress is served within a second, and a backend without ready endpoints is 503.
	if _, err := client.NetworkingV1().Ingresses("default").Create(ctx, ing("later", 3, map[string][]string{
		"c.example": {"Prefix / web:http"}, "d.example": {"Prefix / missing:80"}}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c.example routed", func() bool { s, _ := get(t, c, base+"/", "c.example"); return s == 200 })
	if status, _ := get(t, c, base+"/", "d.example"); status != 503 {
		t.Errorf("d.example: %d, want 503", status)
	}

	// A TLS host: its Secret's certificate by SNI, a redirect from HTTP, and a Secret
	// change picked up live.
	secret := tlsSecret(t, "c-tls", "c.example", "")
	if _, err := client.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	later, _ := client.NetworkingV1().Ingresses("default").Get(ctx, "later", metav1.GetOptions{})
	later.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"c.example"}, SecretName: "c-tls"}}
	if _, err := client.NetworkingV1().Ingresses("default").Update(ctx, later, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c.example certificate", func() bool { return servedCN(t, tlsAddr, "c.example") == "c.example" })
	if cn := servedCN(t, tlsAddr, "a.example"); cn != DefaultCertificateName {
		t.Errorf("a.example over TLS: %q", cn)
	}
	noFollow := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, port2, _ := net.SplitHostPort(tlsAddr)
	req, _ := http.NewRequest("GET", base+"/p", nil)
	req.Host = "c.example"
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://c.example:"+port2+"/p" {
		t.Errorf("redirect %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	secret = tlsSecret(t, "c-tls", "c2.example", "")
	if _, err := client.CoreV1().Secrets("default").Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the updated certificate", func() bool { return servedCN(t, tlsAddr, "c.example") == "c2.example" })
}
