package service

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// PrepareForCreate clears what users may not set on create: the whole status
// (svcStrategy.PrepareForCreate).
func PrepareForCreate(svc *corev1.Service) {
	svc.Status = corev1.ServiceStatus{}
}

// PrepareForUpdate keeps the stored status and wipes type-dependent fields the new type no
// longer uses, when the user left them untouched (svcStrategy.PrepareForUpdate): cluster IPs and
// IP families when switching to ExternalName, node ports when leaving NodePort/LoadBalancer,
// healthCheckNodePort, allocateLoadBalancerNodePorts, loadBalancerClass, externalTrafficPolicy,
// and the load-balancer status of a Service that is no longer a LoadBalancer. The allocator
// releases what is wiped here.
func PrepareForUpdate(svc, old *corev1.Service) {
	svc.Status = *old.Status.DeepCopy()
	dropTypeDependentFields(svc, old)
}

// PrepareForStatusUpdate keeps the stored spec: a status update may not change it
// (serviceStatusStrategy.PrepareForUpdate).
func PrepareForStatusUpdate(svc, old *corev1.Service) {
	svc.Spec = *old.Spec.DeepCopy()
}

func dropTypeDependentFields(newSvc, oldSvc *corev1.Service) {
	if needsClusterIP(oldSvc) && !needsClusterIP(newSvc) {
		if sameClusterIPs(oldSvc, newSvc) {
			newSvc.Spec.ClusterIP = ""
			newSvc.Spec.ClusterIPs = nil
		}
		if slices.Equal(oldSvc.Spec.IPFamilies, newSvc.Spec.IPFamilies) {
			newSvc.Spec.IPFamilies = nil
		}
		if getIPFamilyPolicy(oldSvc) == getIPFamilyPolicy(newSvc) {
			newSvc.Spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePort(oldSvc) && !needsNodePort(newSvc) && nodePortSet(oldSvc).IsSuperset(nodePortSet(newSvc)) {
		for i := range newSvc.Spec.Ports {
			newSvc.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheck(oldSvc) && !needsHealthCheck(newSvc) && oldSvc.Spec.HealthCheckNodePort == newSvc.Spec.HealthCheckNodePort {
		newSvc.Spec.HealthCheckNodePort = 0
	}
	if oldSvc.Spec.Type == corev1.ServiceTypeLoadBalancer && newSvc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		o, n := oldSvc.Spec.AllocateLoadBalancerNodePorts, newSvc.Spec.AllocateLoadBalancerNodePorts
		if o != nil && n != nil && *o == *n {
			newSvc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if sameLoadBalancerClass(oldSvc, newSvc) {
			newSvc.Spec.LoadBalancerClass = nil
		}
	}
	if needsNodePort(oldSvc) && !needsNodePort(newSvc) && oldSvc.Spec.ExternalTrafficPolicy == newSvc.Spec.ExternalTrafficPolicy {
		newSvc.Spec.ExternalTrafficPolicy = ""
	}
	// LB de-provisioning is asynchronous, but the user need not see that.
	if newSvc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		newSvc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

// normalizeClusterIPs keeps clusterIP and clusterIPs in step, guessing what an old client
// (which only knows the singular field) meant. old is nil on create.
func normalizeClusterIPs(newSvc, oldSvc *corev1.Service) {
	if oldSvc == nil {
		if len(newSvc.Spec.ClusterIP) > 0 && len(newSvc.Spec.ClusterIPs) == 0 {
			newSvc.Spec.ClusterIPs = []string{newSvc.Spec.ClusterIP}
		}
		return
	}
	// An old client patching some other field sent no clusterIPs.
	if len(oldSvc.Spec.ClusterIPs) > 0 && len(newSvc.Spec.ClusterIPs) == 0 && oldSvc.Spec.ClusterIP == newSvc.Spec.ClusterIP {
		newSvc.Spec.ClusterIPs = oldSvc.Spec.ClusterIPs
	}
	// Only the plural fields are compared here (storage's sameClusterIPs upstream).
	samePlural := slices.Equal(oldSvc.Spec.ClusterIPs, newSvc.Spec.ClusterIPs)
	if oldSvc.Spec.ClusterIP != newSvc.Spec.ClusterIP {
		if len(oldSvc.Spec.ClusterIP) > 0 && len(newSvc.Spec.ClusterIP) == 0 {
			if samePlural {
				newSvc.Spec.ClusterIPs = nil
			}
		} else if samePlural {
			newSvc.Spec.ClusterIPs = []string{newSvc.Spec.ClusterIP}
		}
	}
}

// patchAllocatedValues copies values allocated on the user's behalf (cluster IPs, node ports,
// healthCheckNodePort) into an update that omits them, so re-applying the original manifest
// succeeds.
func patchAllocatedValues(newSvc, oldSvc *corev1.Service) {
	if needsClusterIP(oldSvc) && needsClusterIP(newSvc) {
		if newSvc.Spec.ClusterIP == "" {
			newSvc.Spec.ClusterIP = oldSvc.Spec.ClusterIP
		}
		if len(newSvc.Spec.ClusterIPs) == 0 && len(oldSvc.Spec.ClusterIPs) > 0 {
			newSvc.Spec.ClusterIPs = oldSvc.Spec.ClusterIPs
		}
	}
	if needsNodePort(oldSvc) && needsNodePort(newSvc) {
		used := nodePortSet(oldSvc).Intersection(nodePortSet(newSvc))
		byName := map[string]int32{}
		for _, p := range oldSvc.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range newSvc.Spec.Ports {
			p := &newSvc.Spec.Ports[i]
			if p.NodePort == 0 {
				if oldVal := byName[p.Name]; !used.Has(oldVal) {
					p.NodePort = oldVal
				}
			}
		}
	}
	if needsHealthCheck(oldSvc) && needsHealthCheck(newSvc) && newSvc.Spec.HealthCheckNodePort == 0 {
		newSvc.Spec.HealthCheckNodePort = oldSvc.Spec.HealthCheckNodePort
	}
}

func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName
}

func needsNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func sameClusterIPs(a, b *corev1.Service) bool {
	return a.Spec.ClusterIP == b.Spec.ClusterIP && slices.Equal(a.Spec.ClusterIPs, b.Spec.ClusterIPs)
}

func nodePortSet(svc *corev1.Service) sets.Set[int32] {
	out := sets.New[int32]()
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out.Insert(p.NodePort)
		}
	}
	return out
}
