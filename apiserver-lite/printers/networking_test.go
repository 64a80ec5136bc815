package printers

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestPrintEndpointSlice(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web-abcde", CreationTimestamp: ago(12 * time.Minute)}
	eps := func(addrs ...string) []discoveryv1.Endpoint {
		out := make([]discoveryv1.Endpoint, len(addrs))
		for i, a := range addrs {
			out[i] = discoveryv1.Endpoint{Addresses: []string{a}}
		}
		return out
	}
	cases := []rowCase{
		{"two endpoints two ports", &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}, {Name: ptr("https"), Port: ptr(int32(8443))}},
			Endpoints: eps("10.244.1.5", "10.244.2.6")},
			[]interface{}{"web-abcde", "IPv4", "8080,8443", "10.244.1.5,10.244.2.6", "12m"}},
		{"empty slice", &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv6},
			[]interface{}{"web-abcde", "IPv6", "<unset>", "<unset>", "12m"}},
		{"port name or star when unset", &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr("http")}, {}}, Endpoints: eps("10.244.1.5")},
			[]interface{}{"web-abcde", "IPv4", "http,*", "10.244.1.5", "12m"}},
		{"more than three", &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(1))}, {Port: ptr(int32(2))}, {Port: ptr(int32(3))}, {Port: ptr(int32(4))}, {Port: ptr(int32(5))}},
			Endpoints: eps("10.244.1.5", "10.244.1.6", "10.244.2.5", "10.244.2.6")},
			[]interface{}{"web-abcde", "IPv4", "1,2,3 + 2 more...", "10.244.1.5,10.244.1.6,10.244.2.5 + 1 more...", "12m"}},
	}
	checkRows(t, schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, "NAME | ADDRESSTYPE | PORTS | ENDPOINTS | AGE", cases)
}

func TestPrintIngress(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "shop", CreationTimestamp: ago(4 * time.Minute)}
	rule := func(host string) networkingv1.IngressRule { return networkingv1.IngressRule{Host: host} }
	cases := []rowCase{
		{"catch-all without class or address", &networkingv1.Ingress{ObjectMeta: meta, Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{rule("")}}},
			[]interface{}{"shop", "<none>", "*", "", "80", "4m"}},
		{"hosts, TLS and address", &networkingv1.Ingress{ObjectMeta: meta,
			Spec: networkingv1.IngressSpec{IngressClassName: ptr("svclab"), Rules: []networkingv1.IngressRule{rule("shop.example.com"), rule(""), rule("api.example.com")},
				TLS: []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}}}},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{
				{IP: "172.30.1.9"}, {IP: "172.30.1.10"}, {Hostname: "lb.example.com"}, {IP: "172.30.1.9"}}}}},
			[]interface{}{"shop", "svclab", "shop.example.com,api.example.com", "172.30.1.10,172.30.1.9,lb.example.com", "80, 443", "4m"}},
		{"more than three hosts", &networkingv1.Ingress{ObjectMeta: meta, Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
			rule("a.example.com"), rule("b.example.com"), rule("c.example.com"), rule("d.example.com"), rule("e.example.com")}}},
			[]interface{}{"shop", "<none>", "a.example.com,b.example.com,c.example.com + 2 more...", "", "80", "4m"}},
	}
	checkRows(t, schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}, "NAME | CLASS | HOSTS | ADDRESS | PORTS | AGE", cases)
}

func TestPrintIngressClass(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "svclab", CreationTimestamp: ago(time.Hour)}
	cases := []rowCase{
		{"no parameters", &networkingv1.IngressClass{ObjectMeta: meta, Spec: networkingv1.IngressClassSpec{Controller: "svclab.dev/ingress"}},
			[]interface{}{"svclab", "svclab.dev/ingress", "<none>", "60m"}},
		{"parameters with group", &networkingv1.IngressClass{ObjectMeta: meta, Spec: networkingv1.IngressClassSpec{Controller: "svclab.dev/ingress",
			Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"}}},
			[]interface{}{"svclab", "svclab.dev/ingress", "IngressParameters.k8s.example.com/external-lb", "60m"}},
		{"core parameters", &networkingv1.IngressClass{ObjectMeta: meta, Spec: networkingv1.IngressClassSpec{Controller: "svclab.dev/ingress",
			Parameters: &networkingv1.IngressClassParametersReference{Kind: "ConfigMap", Name: "ingress"}}},
			[]interface{}{"svclab", "svclab.dev/ingress", "ConfigMap/ingress", "60m"}},
	}
	checkRows(t, schema.GroupResource{Group: "networking.k8s.io", Resource: "ingressclasses"}, "NAME | CONTROLLER | PARAMETERS | AGE", cases)
}

func TestPrintServiceCIDRAndIPAddress(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "kubernetes", CreationTimestamp: ago(3 * time.Hour)}
	checkRows(t, schema.GroupResource{Group: "networking.k8s.io", Resource: "servicecidrs"}, "NAME | CIDRS | AGE", []rowCase{
		{"dual stack", &networkingv1.ServiceCIDR{ObjectMeta: meta, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/12", "fd00:10:96::/112"}}},
			[]interface{}{"kubernetes", "10.96.0.0/12,fd00:10:96::/112", "3h"}},
	})
	// Upstream defines no AGE column for IP addresses yet still prints the age cell.
	checkRows(t, schema.GroupResource{Group: "networking.k8s.io", Resource: "ipaddresses"}, "NAME | PARENTREF", []rowCase{
		{"owned by a service", &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.1", CreationTimestamp: ago(3 * time.Hour)},
			Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "kubernetes"}}},
			[]interface{}{"10.96.0.1", "services/default/kubernetes", "3h"}},
		{"cluster-scoped grouped parent", &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.2", CreationTimestamp: ago(3 * time.Hour)},
			Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Group: "Gateway.Networking.k8s.io", Resource: "Gateways", Name: "gw"}}},
			[]interface{}{"10.96.0.2", "gateways.gateway.networking.k8s.io/gw", "3h"}},
		{"no parent", &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.3", CreationTimestamp: ago(3 * time.Hour)}},
			[]interface{}{"10.96.0.3", "<none>", "3h"}},
	})
}

func TestPrintLeaseAndRuntimeClass(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease", CreationTimestamp: ago(50 * time.Hour)}
	checkRows(t, schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "NAME | HOLDER | AGE", []rowCase{
		{"held", &coordinationv1.Lease{ObjectMeta: meta, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-1")}}, []interface{}{"node-1", "node-1", "2d2h"}},
		{"free", &coordinationv1.Lease{ObjectMeta: meta}, []interface{}{"node-1", "", "2d2h"}},
	})
	checkRows(t, schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}, "NAME | HANDLER | AGE", []rowCase{
		{"process runtime", &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "svclab-process", CreationTimestamp: ago(9 * 24 * time.Hour)}, Handler: "process"},
			[]interface{}{"svclab-process", "process", "9d"}},
	})
}
