package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func testService(name string, mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(5 * time.Hour)},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.12.34",
			ClusterIPs: []string{"10.96.12.34"},
			Ports:      []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
			Selector:   map[string]string{"app": "web"},
		},
	}
	mutate(s)
	return s
}

func TestPrintService(t *testing.T) {
	const cols = "NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | SELECTOR (wide)"
	cases := []rowCase{
		{"kubernetes", testService("kubernetes", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.1", []string{"10.96.0.1"}
			s.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}
			s.Spec.Selector = nil
		}), []interface{}{"kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "5h", "<none>"}},

		{"cluster IP with external IPs", testService("web", func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"203.0.113.7", "203.0.113.8"}
		}), []interface{}{"web", "ClusterIP", "10.96.12.34", "203.0.113.7,203.0.113.8", "80/TCP", "5h", "app=web"}},

		{"node port", testService("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 31230
		}), []interface{}{"web", "NodePort", "10.96.12.34", "<none>", "80:31230/TCP", "5h", "app=web"}},

		{"load balancer without ingress", testService("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 31230
		}), []interface{}{"web", "LoadBalancer", "10.96.12.34", "<pending>", "80:31230/TCP", "5h", "app=web"}},

		{"load balancer ingress sorted and de-duplicated", testService("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 31230
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.30.1.3"}, {IP: "172.30.1.20"}, {IP: "172.30.1.3"}}
		}), []interface{}{"web", "LoadBalancer", "10.96.12.34", "172.30.1.20,172.30.1.3", "80:31230/TCP", "5h", "app=web"}},

		{"load balancer hostname is not clipped server-side", testService("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "a1b2c3d4e5f6.elb.example.com"}}
		}), []interface{}{"web", "LoadBalancer", "10.96.12.34", "a1b2c3d4e5f6.elb.example.com", "80/TCP", "5h", "app=web"}},

		{"load balancer ingress then external IPs", testService("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalIPs = []string{"203.0.113.10"}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.30.1.3"}}
		}), []interface{}{"web", "LoadBalancer", "10.96.12.34", "172.30.1.3,203.0.113.10", "80/TCP", "5h", "app=web"}},

		{"load balancer pending with external IPs", testService("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalIPs = []string{"203.0.113.10"}
		}), []interface{}{"web", "LoadBalancer", "10.96.12.34", "203.0.113.10", "80/TCP", "5h", "app=web"}},

		{"headless", testService("db", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
			s.Spec.Ports = []corev1.ServicePort{{Port: 5432, Protocol: corev1.ProtocolTCP}}
			s.Spec.Selector = map[string]string{"app": "db", "tier": "data"}
		}), []interface{}{"db", "ClusterIP", "None", "<none>", "5432/TCP", "5h", "app=db,tier=data"}},

		{"external name without ports", testService("db", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports, s.Spec.Selector = "", nil, nil, nil
		}), []interface{}{"db", "ExternalName", "<none>", "db.example.com", "<none>", "5h", "<none>"}},

		{"kube-dns ports", testService("kube-dns", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}
			s.Spec.Ports = []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
				{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP},
			}
			s.Spec.Selector = map[string]string{"k8s-app": "kube-dns"}
		}), []interface{}{"kube-dns", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP,9153/TCP", "5h", "k8s-app=kube-dns"}},

		{"dual stack shows the primary cluster IP", testService("web", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "fd00:10:96::1234", []string{"fd00:10:96::1234", "10.96.12.34"}
		}), []interface{}{"web", "ClusterIP", "fd00:10:96::1234", "<none>", "80/TCP", "5h", "app=web"}},

		{"unset type", testService("web", func(s *corev1.Service) {
			s.Spec.Type = ""
		}), []interface{}{"web", "", "10.96.12.34", "<unknown>", "80/TCP", "5h", "app=web"}},
	}
	checkRows(t, schema.GroupResource{Resource: "services"}, cols, cases)
}

func TestLoadBalancerStatusClipping(t *testing.T) {
	ingress := []corev1.LoadBalancerIngress{{IP: "172.30.1.100"}, {IP: "172.30.1.101"}}
	if got, want := loadBalancerStatusStringer(ingress, false), "172.30.1.100,..."; got != want {
		t.Errorf("narrow = %q, want %q", got, want)
	}
	if got, want := loadBalancerStatusStringer(ingress, true), "172.30.1.100,172.30.1.101"; got != want {
		t.Errorf("wide = %q, want %q", got, want)
	}
}

func endpointsWith(subsets ...corev1.EndpointSubset) *corev1.Endpoints {
	return &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(3 * 24 * time.Hour)}, Subsets: subsets}
}

func addrs(ips ...string) []corev1.EndpointAddress {
	out := make([]corev1.EndpointAddress, len(ips))
	for i, ip := range ips {
		out[i] = corev1.EndpointAddress{IP: ip}
	}
	return out
}

func TestPrintEndpoints(t *testing.T) {
	port := func(p int32) []corev1.EndpointPort {
		return []corev1.EndpointPort{{Port: p, Protocol: corev1.ProtocolTCP}}
	}
	cases := []rowCase{
		{"no subsets", endpointsWith(), []interface{}{"web", "<none>", "3d"}},
		{"two endpoints", endpointsWith(corev1.EndpointSubset{Addresses: addrs("10.244.1.5", "10.244.2.6"), Ports: port(8080)}),
			[]interface{}{"web", "10.244.1.5:8080,10.244.2.6:8080", "3d"}},
		{"more than three", endpointsWith(corev1.EndpointSubset{Addresses: addrs("10.244.1.5", "10.244.1.6", "10.244.2.5", "10.244.2.6", "10.244.3.5"), Ports: port(8080)}),
			[]interface{}{"web", "10.244.1.5:8080,10.244.1.6:8080,10.244.2.5:8080 + 2 more...", "3d"}},
		{"every port of every address counts", endpointsWith(corev1.EndpointSubset{Addresses: addrs("10.244.1.5", "10.244.2.6"),
			Ports: []corev1.EndpointPort{{Name: "http", Port: 80}, {Name: "https", Port: 443}}}),
			[]interface{}{"web", "10.244.1.5:80,10.244.2.6:80,10.244.1.5:443 + 1 more...", "3d"}},
		{"headless without ports", endpointsWith(corev1.EndpointSubset{Addresses: addrs("10.244.1.5", "10.244.2.6")}),
			[]interface{}{"web", "10.244.1.5,10.244.2.6", "3d"}},
		{"IPv6", endpointsWith(corev1.EndpointSubset{Addresses: addrs("fd00:10:244::5"), Ports: port(80)}),
			[]interface{}{"web", "[fd00:10:244::5]:80", "3d"}},
		{"only not-ready addresses", endpointsWith(corev1.EndpointSubset{NotReadyAddresses: addrs("10.244.1.5"), Ports: port(80)}),
			[]interface{}{"web", "", "3d"}},
	}
	checkRows(t, schema.GroupResource{Resource: "endpoints"}, "NAME | ENDPOINTS | AGE", cases)
}
