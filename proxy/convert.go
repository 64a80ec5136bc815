package proxy

import (
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// servicePorts converts a Service into its proxied ports; nil for Services kube-proxy
// ignores (headless, ExternalName, no IPv4 ClusterIP).
func servicePorts(svc *corev1.Service) map[ServicePortName]*ServicePort {
	if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	clusterIP, ok := parseIPv4(svc.Spec.ClusterIP)
	if !ok { // headless ("None"), unallocated, or IPv6
		return nil
	}
	nn := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	var external, lbVIPs []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		if ip, ok := parseIPv4(s); ok {
			external = append(external, ip)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			// ipMode Proxy means the load balancer delivers to the node itself; kube-proxy
			// then does not short-circuit the VIP (KEP-1860).
			if ing.IPMode != nil && *ing.IPMode == corev1.LoadBalancerIPModeProxy {
				continue
			}
			if ip, ok := parseIPv4(ing.IP); ok {
				lbVIPs = append(lbVIPs, ip)
			}
		}
	}
	var sourceRanges []netip.Prefix
	for _, r := range svc.Spec.LoadBalancerSourceRanges {
		if p, err := netip.ParsePrefix(strings.TrimSpace(r)); err == nil && p.Addr().Is4() {
			sourceRanges = append(sourceRanges, p.Masked())
		}
	}
	affinity := svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP
	stickyAge := 0
	if affinity {
		stickyAge = int(corev1.DefaultClientIPServiceAffinitySeconds)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			stickyAge = int(*c.ClientIP.TimeoutSeconds)
		}
	}
	out := make(map[ServicePortName]*ServicePort, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		name := ServicePortName{NamespacedName: nn, Port: p.Name, Protocol: p.Protocol}
		out[name] = &ServicePort{
			Name:                     name,
			ClusterIP:                clusterIP,
			Port:                     int(p.Port),
			Protocol:                 p.Protocol,
			NodePort:                 int(p.NodePort),
			TargetPort:               p.TargetPort.String(),
			ExternalIPs:              external,
			LoadBalancerVIPs:         lbVIPs,
			LoadBalancerSourceRanges: sourceRanges,
			SessionAffinityClientIP:  affinity,
			StickyMaxAgeSeconds:      stickyAge,
			ExternalPolicyLocal:      svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
			InternalPolicyLocal:      svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
			HealthCheckNodePort:      int(svc.Spec.HealthCheckNodePort),
		}
	}
	return out
}

// sliceEndpoints merges the EndpointSlices of one Service into endpoints per port, the way
// upstream's EndpointSliceCache does: IPv4 slices only, duplicates across slices collapse
// (the first ready copy wins), sorted by address.
func sliceEndpoints(nn types.NamespacedName, slices map[string]*discoveryv1.EndpointSlice, nodeName string) map[ServicePortName][]Endpoint {
	names := make([]string, 0, len(slices))
	for n := range slices {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[ServicePortName]map[string]int{}
	out := map[ServicePortName][]Endpoint{}
	for _, sliceName := range names {
		s := slices[sliceName]
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, port := range s.Ports {
			if port.Port == nil {
				continue
			}
			proto := corev1.ProtocolTCP
			if port.Protocol != nil {
				proto = *port.Protocol
			}
			name := ServicePortName{NamespacedName: nn, Protocol: proto}
			if port.Name != nil {
				name.Port = *port.Name
			}
			if seen[name] == nil {
				seen[name] = map[string]int{}
			}
			for _, ep := range s.Endpoints {
				if len(ep.Addresses) == 0 {
					continue
				}
				ip, ok := parseIPv4(ep.Addresses[0])
				if !ok {
					continue
				}
				e := Endpoint{IP: ip, Port: int(*port.Port)}
				e.Ready = ep.Conditions.Ready == nil || *ep.Conditions.Ready
				e.Serving = e.Ready
				if ep.Conditions.Serving != nil {
					e.Serving = *ep.Conditions.Serving
				}
				e.Terminating = ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
				if ep.NodeName != nil {
					e.NodeName = *ep.NodeName
					e.Local = nodeName != "" && e.NodeName == nodeName
				}
				key := e.String()
				if i, dup := seen[name][key]; dup {
					if !out[name][i].Ready && e.Ready {
						out[name][i] = e
					}
					continue
				}
				seen[name][key] = len(out[name])
				out[name] = append(out[name], e)
			}
		}
	}
	for name, eps := range out {
		sort.Slice(eps, func(i, j int) bool {
			if c := eps[i].IP.Compare(eps[j].IP); c != 0 {
				return c < 0
			}
			return eps[i].Port < eps[j].Port
		})
		if len(eps) == 0 {
			delete(out, name)
		}
	}
	return out
}

func parseIPv4(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, false
	}
	return ip, true
}
