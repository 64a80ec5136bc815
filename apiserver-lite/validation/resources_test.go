package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func objMeta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "1"}
}

func ingress(mutate func(*networkingv1.IngressSpec)) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{ObjectMeta: objMeta("web", "default"), Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: "web.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
		}}}},
	}}
	mutate(&ing.Spec)
	return ing
}

func TestValidateObjects(t *testing.T) {
	tests := []struct {
		errorCase
		obj runtime.Object
	}{
		{errorCase{"namespace name is a DNS label", []string{"metadata.name: Invalid value: \"team.a\": must not contain dots"}},
			&corev1.Namespace{ObjectMeta: objMeta("team.a", "")}},
		{errorCase{"namespace bad finalizer", []string{"metadata.finalizers[0]: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab", Finalizers: []string{"cleanup"}}}},
		{errorCase{"configmap bad key", []string{"data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"}},
			&corev1.ConfigMap{ObjectMeta: objMeta("cfg", "default"), Data: map[string]string{"bad key": "v"}}},
		{errorCase{"configmap too big", []string{"[]: Too long: may not be more than 1048576 bytes"}},
			&corev1.ConfigMap{ObjectMeta: objMeta("cfg", "default"), Data: map[string]string{"k": strings.Repeat("x", 1<<20+1)}}},
		{errorCase{"tls secret without key", []string{"data[tls.key]: Required value"}},
			&corev1.Secret{ObjectMeta: objMeta("tls", "default"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("x")}}},
		{errorCase{"endpoints loopback and unnamed ports", []string{
			"subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
			"subsets[0].ports[0].name: Required value",
			"subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive"}},
			&corev1.Endpoints{ObjectMeta: objMeta("web", "default"), Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}},
				Ports:     []corev1.EndpointPort{{Port: 80, Protocol: "TCP"}, {Name: "b", Protocol: "TCP"}}}}}},
		{errorCase{"endpoints without addresses", []string{"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"}},
			&corev1.Endpoints{ObjectMeta: objMeta("web", "default"), Subsets: []corev1.EndpointSubset{{}}}},
		{errorCase{"endpointslice", []string{
			"addressType: Required value",
			"endpoints[0].addresses: Required value: must contain at least 1 address",
			"ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""}},
			&discoveryv1.EndpointSlice{ObjectMeta: objMeta("web-abc", "default"), Endpoints: []discoveryv1.Endpoint{{}},
				Ports: []discoveryv1.EndpointPort{{Name: ptr.To(""), Protocol: ptr.To(corev1.Protocol("HTTP"))}}}},
		{errorCase{"endpointslice family", []string{"endpoints[0].addresses[0]: Invalid value: \"fd00::1\": must be an IPv4 address"}},
			&discoveryv1.EndpointSlice{ObjectMeta: objMeta("web-abc", "default"), AddressType: discoveryv1.AddressTypeIPv4,
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}}}},
		{errorCase{"valid ingress", nil}, ingress(func(*networkingv1.IngressSpec) {})},
		{errorCase{"ingress without pathType", []string{"spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"}},
			ingress(func(s *networkingv1.IngressSpec) { s.Rules[0].HTTP.Paths[0].PathType = nil })},
		{errorCase{"ingress relative path", []string{"spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path"}},
			ingress(func(s *networkingv1.IngressSpec) { s.Rules[0].HTTP.Paths[0].Path = "api" })},
		{errorCase{"ingress backend without port", []string{"spec.rules[0].http.paths[0].backend: Required value: port name or number is required"}},
			ingress(func(s *networkingv1.IngressSpec) { s.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 0 })},
		{errorCase{"ingress IP host", []string{
			"spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address"}},
			ingress(func(s *networkingv1.IngressSpec) { s.Rules[0].Host = "10.0.0.1" })},
		{errorCase{"ingress with nothing", []string{"spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"}},
			ingress(func(s *networkingv1.IngressSpec) { s.Rules = nil })},
		{errorCase{"ingress bad tls secret", []string{"spec.tls[0].secretName: Invalid value: \"Web_TLS\": a lowercase RFC 1123 subdomain must consist of..."}},
			ingress(func(s *networkingv1.IngressSpec) { s.TLS = []networkingv1.IngressTLS{{SecretName: "Web_TLS"}} })},
		{errorCase{"ingressclass controller", []string{"spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"}},
			&networkingv1.IngressClass{ObjectMeta: objMeta("nginx", ""), Spec: networkingv1.IngressClassSpec{Controller: "nginx"}}},
		{errorCase{"servicecidr bad", []string{"spec.cidrs[0]: Invalid value: \"10.96.0.1/12\": must not have bits set beyond the prefix length"}},
			&networkingv1.ServiceCIDR{ObjectMeta: objMeta("kubernetes", ""), Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.1/12"}}}},
		{errorCase{"ipaddress name and parentRef", []string{
			"metadata.name: Invalid value: \"10.96.000.10\": must not have leading 0s",
			"spec.parentRef: Required value"}},
			&networkingv1.IPAddress{ObjectMeta: objMeta("10.96.000.10", "")}},
		{errorCase{"node taint", []string{"metadata.taints[0].effect: Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""}},
			&corev1.Node{ObjectMeta: objMeta("node-1", ""), Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: "Never"}}}}},
		{errorCase{"unknown type gets metadata only", []string{"metadata.name: Invalid value: \"a/b\": may not contain '/'"}},
			&corev1.Binding{ObjectMeta: objMeta("a/b", "default")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkErrors(t, Validate(tt.obj), tt.want) })
	}
}

func TestValidateUpdates(t *testing.T) {
	ic := &networkingv1.IngressClass{ObjectMeta: objMeta("lab", ""), Spec: networkingv1.IngressClassSpec{Controller: "svclab.dev/ingress"}}
	ic2 := ic.DeepCopy()
	ic2.Spec.Controller = "example.com/other"

	sc := &networkingv1.ServiceCIDR{ObjectMeta: objMeta("kubernetes", ""), Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/12"}}}
	scChanged := sc.DeepCopy()
	scChanged.Spec.CIDRs = []string{"10.100.0.0/16"}
	scDual := sc.DeepCopy()
	scDual.Spec.CIDRs = append(scDual.Spec.CIDRs, "fd00:10:96::/112")

	node := &corev1.Node{ObjectMeta: objMeta("node-1", ""), Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.1.0/24"}}}
	node2 := node.DeepCopy()
	node2.Spec.PodCIDRs = []string{"10.244.2.0/24"}
	node3 := node.DeepCopy()
	node3.Spec.Unschedulable = true

	secret := &corev1.Secret{ObjectMeta: objMeta("s", "default"), Type: corev1.SecretTypeOpaque, Immutable: ptr.To(true), Data: map[string][]byte{"a": []byte("1")}}
	secret2 := secret.DeepCopy()
	secret2.Data["a"] = []byte("2")
	secret2.Type = "kubernetes.io/basic-auth"

	es := &discoveryv1.EndpointSlice{ObjectMeta: objMeta("web-abc", "default"), AddressType: discoveryv1.AddressTypeIPv4}
	es2 := es.DeepCopy()
	es2.AddressType = discoveryv1.AddressTypeIPv6

	tests := []struct {
		errorCase
		obj, old runtime.Object
	}{
		{errorCase{"ingressclass controller immutable", []string{"spec.controller: Invalid value: \"example.com/other\": field is immutable"}}, ic2, ic},
		{errorCase{"servicecidr immutable", []string{"spec.cidrs[0]: Invalid value: \"10.100.0.0/16\": field is immutable"}}, scChanged, sc},
		{errorCase{"servicecidr may become dual-stack", nil}, scDual, sc},
		{errorCase{"node podCIDRs", []string{"spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"}}, node2, node},
		{errorCase{"node cordon", nil}, node3, node},
		{errorCase{"immutable secret", []string{
			"type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable",
			"data: Forbidden: field is immutable when `immutable` is set",
			"data[username]: Required value", "data[password]: Required value"}}, secret2, secret},
		{errorCase{"endpointslice addressType", []string{"addressType: Invalid value: \"IPv6\": field is immutable"}}, es2, es},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkErrors(t, ValidateUpdate(tt.obj, tt.old), tt.want) })
	}
}

func TestValidateStatusUpdates(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: objMeta("lab", ""), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	ns2 := ns.DeepCopy()
	ns2.Status.Phase = corev1.NamespaceTerminating
	checkErrors(t, ValidateStatusUpdate(ns2, ns), []string{"status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"})

	ing := ingress(func(*networkingv1.IngressSpec) {})
	ing2 := ing.DeepCopy()
	ing2.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "172.30.1.300"}}
	checkErrors(t, ValidateStatusUpdate(ing2, ing), []string{"status.loadBalancer.ingress[0].ip: Invalid value: \"172.30.1.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"})
}

func TestNameFunc(t *testing.T) {
	for _, tt := range []struct {
		obj   runtime.Object
		name  string
		valid bool
	}{
		{&corev1.Namespace{}, "kube-system", true},
		{&corev1.Namespace{}, "a.b", false},
		{&corev1.Pod{}, "a.b", true},
		{&networkingv1.IPAddress{}, "10.96.0.10", true},
		{&networkingv1.IPAddress{}, "2001:db8:0::1", false},
		{&corev1.Binding{}, "Anything_goes", true},
	} {
		if got := len(NameFunc(tt.obj)(tt.name, false)) == 0; got != tt.valid {
			t.Errorf("NameFunc(%T)(%q) valid = %v, want %v", tt.obj, tt.name, got, tt.valid)
		}
	}
}
