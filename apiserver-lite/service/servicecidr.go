package service

import (
	"net/netip"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultServiceCIDRName is the name of the ServiceCIDR kube-apiserver creates from
// --service-cluster-ip-range.
const DefaultServiceCIDRName = "kubernetes"

// DefaultServiceCIDR returns the "kubernetes" ServiceCIDR for prefix with the Ready=True
// condition kube-apiserver's default-service-CIDR controller sets.
func DefaultServiceCIDR(prefix netip.Prefix) *networkingv1.ServiceCIDR {
	return &networkingv1.ServiceCIDR{
		TypeMeta:   metav1.TypeMeta{APIVersion: networkingv1.SchemeGroupVersion.String(), Kind: "ServiceCIDR"},
		ObjectMeta: metav1.ObjectMeta{Name: DefaultServiceCIDRName},
		Spec:       networkingv1.ServiceCIDRSpec{CIDRs: []string{prefix.Masked().String()}},
		Status: networkingv1.ServiceCIDRStatus{
			Conditions: []metav1.Condition{{
				Type:               networkingv1.ServiceCIDRConditionReady,
				Status:             metav1.ConditionTrue,
				Reason:             "ServiceCIDRReady",
				Message:            "Kubernetes default Service CIDR is ready",
				LastTransitionTime: metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
			}},
		},
	}
}
