package service

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

var (
	supportedIPFamily       = sets.New(corev1.IPv4Protocol, corev1.IPv6Protocol)
	supportedIPFamilyPolicy = sets.New(corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)
	supportedLBIPMode       = sets.New(corev1.LoadBalancerIPModeVIP, corev1.LoadBalancerIPModeProxy)
)

// validateClusterIPsRelatedFields validates clusterIP, clusterIPs, ipFamilies and
// ipFamilyPolicy together (ValidateServiceClusterIPsRelatedFields). The allocator also runs it
// as a pre-check before touching the IP store.
func validateClusterIPsRelatedFields(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var allErrs field.ErrorList
	hasInvalidIPs := false
	specPath := field.NewPath("spec")
	clusterIPsField := specPath.Child("clusterIPs")
	ipFamiliesField := specPath.Child("ipFamilies")

	if len(svc.Spec.ClusterIP) != 0 {
		if len(svc.Spec.ClusterIPs) == 0 {
			allErrs = append(allErrs, field.Required(clusterIPsField, ""))
		} else if svc.Spec.ClusterIPs[0] != svc.Spec.ClusterIP {
			allErrs = append(allErrs, field.Invalid(clusterIPsField, svc.Spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(svc.Spec.ClusterIPs) != 0 {
		allErrs = append(allErrs, field.Invalid(clusterIPsField, svc.Spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}

	seen := sets.New[corev1.IPFamily]()
	for i, family := range svc.Spec.IPFamilies {
		if !supportedIPFamily.Has(family) {
			allErrs = append(allErrs, field.NotSupported(ipFamiliesField.Index(i), family, sets.List(supportedIPFamily)))
		}
		if seen.Has(family) {
			allErrs = append(allErrs, field.Duplicate(ipFamiliesField.Index(i), family))
		}
		seen.Insert(family)
	}
	if p := svc.Spec.IPFamilyPolicy; p != nil && !supportedIPFamilyPolicy.Has(*p) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, sets.List(supportedIPFamilyPolicy)))
	}

	var oldIPs []string
	if old != nil {
		oldIPs = old.Spec.ClusterIPs
	}
	for i, ip := range svc.Spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(svc.Spec.ClusterIPs) > 1 {
				hasInvalidIPs = true
				allErrs = append(allErrs, field.Invalid(clusterIPsField, svc.Spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		errs := validation.IsValidIPForLegacyField(clusterIPsField.Index(i), ip, strictIPValidation, oldIPs)
		hasInvalidIPs = hasInvalidIPs || len(errs) != 0
		allErrs = append(allErrs, errs...)
	}
	if len(svc.Spec.ClusterIPs) > 2 {
		allErrs = append(allErrs, field.Invalid(clusterIPsField, svc.Spec.ClusterIPs, "may only hold up to 2 values"))
	}
	// Further checks would only repeat the problem with bad IPs.
	if hasInvalidIPs {
		return allErrs
	}
	if len(svc.Spec.ClusterIPs) > 1 {
		dualStack, err := netutils.IsDualStackIPStrings(svc.Spec.ClusterIPs)
		if err != nil {
			allErrs = append(allErrs, field.InternalError(clusterIPsField, fmt.Errorf("failed to check for dual stack with error:%v", err)))
		}
		if !dualStack {
			allErrs = append(allErrs, field.Invalid(clusterIPsField, svc.Spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}
	if !isHeadless(svc) && len(svc.Spec.ClusterIPs) > 0 && len(svc.Spec.IPFamilies) > 0 {
		for i, ip := range svc.Spec.ClusterIPs {
			if i > len(svc.Spec.IPFamilies)-1 {
				break
			}
			if svc.Spec.IPFamilies[i] == corev1.IPv4Protocol && netutils.IsIPv6String(ip) {
				allErrs = append(allErrs, field.Invalid(clusterIPsField.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			}
			if svc.Spec.IPFamilies[i] == corev1.IPv6Protocol && !netutils.IsIPv6String(ip) {
				allErrs = append(allErrs, field.Invalid(clusterIPsField.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return allErrs
}

// validateUpgradeDowngradeClusterIPs enforces that cluster IPs never change once set, except
// when switching to or from ExternalName.
func validateUpgradeDowngradeClusterIPs(old, svc *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return allErrs
	}
	if isHeadless(old) && isHeadless(svc) {
		return allErrs
	}
	ipsPath := field.NewPath("spec", "clusterIPs")
	switch {
	case len(old.Spec.ClusterIPs) == len(svc.Spec.ClusterIPs):
		for i, ip := range old.Spec.ClusterIPs {
			if ip != svc.Spec.ClusterIPs[i] {
				allErrs = append(allErrs, field.Invalid(ipsPath.Index(i), svc.Spec.ClusterIPs, "may not change once set"))
			}
		}
	case len(old.Spec.ClusterIPs) > len(svc.Spec.ClusterIPs):
		if len(svc.Spec.ClusterIPs) == 0 {
			allErrs = append(allErrs, field.Invalid(ipsPath.Index(0), svc.Spec.ClusterIPs, "primary clusterIP can not be unset"))
		}
		if len(old.Spec.ClusterIPs) > 0 && len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] != old.Spec.ClusterIPs[0] {
			allErrs = append(allErrs, field.Invalid(ipsPath.Index(0), svc.Spec.ClusterIPs, "may not change once set"))
		}
		if len(svc.Spec.ClusterIPs) == 1 && getIPFamilyPolicy(svc) != corev1.IPFamilyPolicySingleStack {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	default:
		if len(old.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] != old.Spec.ClusterIPs[0] {
			allErrs = append(allErrs, field.Invalid(ipsPath.Index(0), svc.Spec.ClusterIPs, "may not change once set"))
		}
	}
	return allErrs
}

// validateUpgradeDowngradeIPFamilies enforces that ipFamilies never change once set, except
// for headless Services and switches to or from ExternalName.
func validateUpgradeDowngradeIPFamilies(old, svc *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return allErrs
	}
	if isHeadless(svc) != isHeadless(old) || isHeadless(svc) {
		return allErrs
	}
	famPath := field.NewPath("spec", "ipFamilies")
	switch {
	case len(old.Spec.IPFamilies) == len(svc.Spec.IPFamilies):
		for i, family := range old.Spec.IPFamilies {
			if family != svc.Spec.IPFamilies[i] {
				allErrs = append(allErrs, field.Invalid(famPath.Index(0), svc.Spec.IPFamilies, "may not change once set"))
			}
		}
	case len(old.Spec.IPFamilies) > len(svc.Spec.IPFamilies):
		if len(svc.Spec.ClusterIPs) == 0 {
			allErrs = append(allErrs, field.Invalid(famPath.Index(0), svc.Spec.IPFamilies, "primary ipFamily can not be unset"))
		}
		if len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] != old.Spec.IPFamilies[0] {
			allErrs = append(allErrs, field.Invalid(famPath.Index(0), svc.Spec.ClusterIPs, "may not change once set"))
		}
		if len(svc.Spec.IPFamilies) == 1 && getIPFamilyPolicy(svc) != corev1.IPFamilyPolicySingleStack {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary ipFamily"))
		}
	default:
		if len(old.Spec.IPFamilies) > 0 && len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] != old.Spec.IPFamilies[0] {
			allErrs = append(allErrs, field.Invalid(famPath.Index(0), svc.Spec.ClusterIPs, "may not change once set"))
		}
	}
	return allErrs
}

// validateLoadBalancerStatus validates status.loadBalancer (ValidateLoadBalancerStatus with
// LoadBalancerIPMode enabled and AllowServiceLBStatusOnNonLB disabled, the defaults).
func validateLoadBalancerStatus(status *corev1.LoadBalancerStatus, fldPath *field.Path, spec *corev1.ServiceSpec, old *corev1.LoadBalancerStatus) field.ErrorList {
	var allErrs field.ErrorList
	ingrPath := fldPath.Child("ingress")
	if spec.Type != corev1.ServiceTypeLoadBalancer && len(status.Ingress) != 0 {
		return field.ErrorList{field.Forbidden(ingrPath, "may only be used when `spec.type` is 'LoadBalancer'")}
	}
	var oldIPs []string
	for _, ing := range old.Ingress {
		oldIPs = append(oldIPs, ing.IP)
	}
	for i, ing := range status.Ingress {
		idxPath := ingrPath.Index(i)
		if len(ing.IP) > 0 {
			allErrs = append(allErrs, validation.IsValidIPForLegacyField(idxPath.Child("ip"), ing.IP, strictIPValidation, oldIPs)...)
		}
		switch {
		case ing.IPMode == nil:
			if len(ing.IP) > 0 {
				allErrs = append(allErrs, field.Required(idxPath.Child("ipMode"), "must be specified when `ip` is set"))
			}
		case len(ing.IP) == 0:
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("ipMode"), "may not be specified when `ip` is not set"))
		case !supportedLBIPMode.Has(*ing.IPMode):
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("ipMode"), ing.IPMode, sets.List(supportedLBIPMode)))
		}
		if len(ing.Hostname) > 0 {
			for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("hostname"), ing.Hostname, msg))
			}
			if netutils.ParseIPSloppy(ing.Hostname) != nil {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return allErrs
}

// getIPFamilyPolicy returns the policy or "" when unset.
func getIPFamilyPolicy(svc *corev1.Service) corev1.IPFamilyPolicy {
	if svc.Spec.IPFamilyPolicy == nil {
		return ""
	}
	return *svc.Spec.IPFamilyPolicy
}
