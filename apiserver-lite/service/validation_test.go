package service_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svclab/svclab/apiserver-lite/service"
)

func TestValidate(t *testing.T) {
	externalName := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = "", nil, nil, nil
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{"valid ClusterIP", newSvc(), ""},
		{"valid headless without ports", newSvc(func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports = "None", []string{"None"}, nil
		}), ""},
		{"valid ExternalName with trailing dot", newSvc(externalName, func(s *corev1.Service) { s.Spec.ExternalName = "db.example.com." }), ""},
		{"name must be a DNS-1035 label", newSvc(func(s *corev1.Service) { s.Name = "1web" }),
			`metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`},
		{"namespace required", newSvc(func(s *corev1.Service) { s.Namespace = "" }), `metadata.namespace: Required value`},
		{"ExternalName requires externalName", newSvc(externalName), `spec.externalName: Required value`},
		{"ExternalName must be a DNS name", newSvc(externalName, func(s *corev1.Service) { s.Spec.ExternalName = "no_underscores" }),
			`spec.externalName: Invalid value: "no_underscores": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"ExternalName may not keep cluster IPs", newSvc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "example.com"
		}),
			`[spec.clusterIPs: Forbidden: may not be set for ExternalName services, spec.ipFamilies: Forbidden: may not be set for ExternalName services, spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services]`},
		{"ports required", newSvc(func(s *corev1.Service) { s.Spec.Ports = nil }), `spec.ports: Required value`},
		{"port names required when several", newSvc(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80}, {Port: 443}}
		}), `[spec.ports[0].name: Required value, spec.ports[1].name: Required value]`},
		{"duplicate port names", newSvc(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "http", Port: 8080}}
		}), `spec.ports[1].name: Duplicate value: "http"`},
		{"invalid port name", newSvc(func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP_1" }),
			`spec.ports[0].name: Invalid value: "HTTP_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"port out of range", newSvc(func(s *corev1.Service) { s.Spec.Ports[0].Port = 70000 }),
			`spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive`},
		{"unsupported protocol", newSvc(func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }),
			`spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`},
		{"targetPort number out of range", newSvc(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) }),
			`spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive`},
		{"targetPort name too long", newSvc(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http-metrics-xyz") }),
			`spec.ports[0].targetPort: Invalid value: "http-metrics-xyz": must be no more than 15 characters`},
		{"targetPort name without letters", newSvc(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("8080") }),
			`spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)`},
		{"duplicate protocol and port", newSvc(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80, TargetPort: intstr.FromInt32(81)}}
		}), `spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}`},
		{"same port on two protocols is fine", newSvc(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53}}
		}), ""},
		{"invalid selector", newSvc(func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "web server"} }),
			`spec.selector: Invalid value: "web server": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		{"nodePort on a ClusterIP service", newSvc(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{"duplicate nodePort", newSvc(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80, NodePort: 30080}, {Name: "b", Port: 81, NodePort: 30080}}
		}), `spec.ports[1].nodePort: Duplicate value: 30080`},
		{"unsupported type", newSvc(withType("Ingress")),
			`spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
		{"session affinity timeout too long", newSvc(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(86401))}}
		}), `spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400`},
		{"clusterIP must be an IP", newSvc(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.300", []string{"10.96.0.300"} }),
			`spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
		{"clusterIPs must match clusterIP", newSvc(func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.21"} }),
			"spec.clusterIPs: Invalid value: [\"10.96.0.21\"]: first value must match `clusterIP`"},
		{"clusterIP family must match ipFamilies", newSvc(func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }),
			"spec.clusterIPs[0]: Invalid value: \"10.96.0.20\": expected an IPv6 value as indicated by `ipFamilies[0]`"},
		{"NodePort may not be headless", newSvc(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"} }),
			`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`},
		{"LoadBalancer may not expose the kubelet port", newSvc(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) { s.Spec.Ports[0].Port = 10250 }),
			`spec.ports[0]: Invalid value: 10250: may not expose port 10250 externally since it is used by kubelet`},
		{"externalIPs may not be loopback", newSvc(func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }),
			`spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`},
		{"externalTrafficPolicy only for external services", newSvc(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`},
		{"healthCheckNodePort only for LoadBalancer Local", newSvc(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 30500 }),
			"spec.healthCheckNodePort: Invalid value: 30500: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"},
		{"LoadBalancer Local needs a healthCheckNodePort", newSvc(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}), `spec.healthCheckNodePort: Required value`},
		{"source ranges only for LoadBalancer", newSvc(func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"} }),
			"spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"},
		{"source range must be a CIDR", newSvc(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.1"} }),
			`spec.LoadBalancerSourceRanges[0]: Invalid value: "203.0.113.1": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
		{"allocateLoadBalancerNodePorts only for LoadBalancer", newSvc(func(s *corev1.Service) { s.Spec.AllocateLoadBalancerNodePorts = ptr(false) }),
			"spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"},
		{"internalTrafficPolicy unsupported", newSvc(func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicy("Node"))
		}),
			`spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"`},
		{"trafficDistribution unsupported", newSvc(func(s *corev1.Service) { s.Spec.TrafficDistribution = ptr("Nearest") }),
			`spec.trafficDistribution: Unsupported value: "Nearest": supported values: "PreferClose", "PreferSameZone", "PreferSameNode"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := service.Validate(tt.svc).ToAggregate(); errString(got) != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", errString(got), tt.want)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	lb := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = 30500
		s.Spec.Ports[0].NodePort = 30080
	}
	tests := []struct {
		name     string
		old, svc *corev1.Service
		want     string
	}{
		{"unchanged", newSvc(), newSvc(), ""},
		{"clusterIP is immutable", newSvc(), newSvc(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.21", []string{"10.96.0.21"} }),
			`spec.clusterIPs[0]: Invalid value: ["10.96.0.21"]: may not change once set`},
		{"clusterIP may not be unset", newSvc(), newSvc(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil }),
			`spec.clusterIPs[0]: Invalid value: null: primary clusterIP can not be unset`},
		{"healthCheckNodePort is immutable", newSvc(lb), newSvc(lb, func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 30501 }),
			`spec.healthCheckNodePort: Forbidden: field is immutable`},
		{"loadBalancerClass is immutable", newSvc(lb), newSvc(lb, func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/lb") }),
			`spec.loadBalancerClass: Invalid value: "example.com/lb": may not change once set`},
		{"ClusterIP to ExternalName after PrepareForUpdate", newSvc(), func() *corev1.Service {
			svc := newSvc(func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeExternalName
				s.Spec.ExternalName = "example.com"
			})
			service.PrepareForUpdate(svc, newSvc())
			return svc
		}(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.old.ResourceVersion, tt.svc.ResourceVersion = "1", "1"
			if got := service.ValidateUpdate(tt.svc, tt.old).ToAggregate(); errString(got) != tt.want {
				t.Errorf("ValidateUpdate() =\n%s\nwant\n%s", errString(got), tt.want)
			}
		})
	}
}

func TestValidateStatusUpdate(t *testing.T) {
	vip := corev1.LoadBalancerIPModeVIP
	ingress := func(ing ...corev1.LoadBalancerIngress) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Status.LoadBalancer.Ingress = ing }
	}
	lb := withType(corev1.ServiceTypeLoadBalancer)
	tests := []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{"LoadBalancer ingress", newSvc(lb, ingress(corev1.LoadBalancerIngress{IP: "172.30.1.1"})), ""},
		{"ingress on a ClusterIP service", newSvc(ingress(corev1.LoadBalancerIngress{IP: "172.30.1.1", IPMode: &vip})),
			"status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'"},
		{"ipMode without ip", newSvc(lb, ingress(corev1.LoadBalancerIngress{Hostname: "lb.example.com", IPMode: &vip})),
			"status.loadBalancer.ingress[0].ipMode: Forbidden: may not be specified when `ip` is not set"},
		{"hostname may not be an IP", newSvc(lb, ingress(corev1.LoadBalancerIngress{Hostname: "172.30.1.1"})),
			`status.loadBalancer.ingress[0].hostname: Invalid value: "172.30.1.1": must be a DNS name, not an IP address`},
		{"bad ip", newSvc(lb, ingress(corev1.LoadBalancerIngress{IP: "172.30.1", IPMode: &vip})),
			`status.loadBalancer.ingress[0].ip: Invalid value: "172.30.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := tt.svc.DeepCopy()
			old.Status = corev1.ServiceStatus{}
			tt.svc.ResourceVersion, old.ResourceVersion = "1", "1"
			if got := service.ValidateStatusUpdate(tt.svc, old).ToAggregate(); errString(got) != tt.want {
				t.Errorf("ValidateStatusUpdate() =\n%s\nwant\n%s", errString(got), tt.want)
			}
		})
	}
}
