package defaults

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
)

// EndpointSliceObject defaults every port's name to "" and protocol to TCP.
func EndpointSliceObject(obj *discoveryv1.EndpointSlice) {
	for i := range obj.Ports {
		p := &obj.Ports[i]
		if p.Name == nil {
			p.Name = ptr.To("")
		}
		if p.Protocol == nil {
			p.Protocol = ptr.To(corev1.ProtocolTCP)
		}
	}
}

// IngressClassObject defaults spec.parameters.scope to Cluster when parameters are set.
func IngressClassObject(obj *networkingv1.IngressClass) {
	if obj.Spec.Parameters != nil && obj.Spec.Parameters.Scope == nil {
		obj.Spec.Parameters.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}

// NetworkPolicyObject defaults port protocols to TCP and policyTypes from the rules present.
func NetworkPolicyObject(obj *networkingv1.NetworkPolicy) {
	for _, rule := range obj.Spec.Ingress {
		networkPolicyPorts(rule.Ports)
	}
	for _, rule := range obj.Spec.Egress {
		networkPolicyPorts(rule.Ports)
	}
	if len(obj.Spec.PolicyTypes) == 0 {
		obj.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(obj.Spec.Egress) != 0 {
			obj.Spec.PolicyTypes = append(obj.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

func networkPolicyPorts(ports []networkingv1.NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			ports[i].Protocol = ptr.To(corev1.ProtocolTCP)
		}
	}
}
