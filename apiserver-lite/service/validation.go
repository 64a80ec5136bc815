package service

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// kubeletPort may not be exposed by a LoadBalancer (pkg/cluster/ports.KubeletPort).
const kubeletPort = 10250

// maxClientIPServiceAffinitySeconds bounds sessionAffinityConfig.clientIP.timeoutSeconds
// (core.MaxClientIPServiceAffinitySeconds: one day).
const maxClientIPServiceAffinitySeconds = 86400

// strictIPValidation mirrors the StrictIPCIDRValidation feature gate, which is off by default:
// legacy IP fields accept leading zeros and IPv4-mapped IPv6 addresses.
const strictIPValidation = false

var (
	supportedSessionAffinityType   = sets.New(corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)
	supportedServiceType           = sets.New(corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)
	supportedInternalTrafficPolicy = sets.New(corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)
	supportedExternalTrafficPolicy = sets.New(corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)
	supportedPortProtocols         = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
	supportedTrafficDistribution   = []string{corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode}
	standardFinalizers             = sets.New(string(corev1.FinalizerKubernetes), "orphan", "foregroundDeletion")
)

// Validate checks a Service on create, with the messages and field paths of kube-apiserver's
// ValidateService.
func Validate(svc *corev1.Service) field.ErrorList {
	return validateService(svc, nil)
}

// ValidateUpdate checks an update of a Service (ValidateServiceUpdate): ClusterIPs and
// ipFamilies may not change once set, loadBalancerClass and healthCheckNodePort are immutable,
// and the new object must be a valid Service.
func ValidateUpdate(svc, old *corev1.Service) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&svc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateUpgradeDowngradeClusterIPs(old, svc)...)
	allErrs = append(allErrs, validateUpgradeDowngradeIPFamilies(old, svc)...)
	allErrs = append(allErrs, validateLoadBalancerClassField(old, svc)...)
	if needsHealthCheck(old) && needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort != old.Spec.HealthCheckNodePort {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "healthCheckNodePort"), "field is immutable"))
	}
	return append(allErrs, validateService(svc, old)...)
}

// ValidateStatusUpdate checks an update of the status subresource (ValidateServiceStatusUpdate).
func ValidateStatusUpdate(svc, old *corev1.Service) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&svc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateLoadBalancerStatus(&svc.Status.LoadBalancer, field.NewPath("status", "loadBalancer"), &svc.Spec, &old.Status.LoadBalancer)...)
}

func validateObjectMeta(meta *metav1.ObjectMeta) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := apimachineryvalidation.ValidateObjectMeta(meta, true, apimachineryvalidation.NameIsDNS1035Label, metaPath)
	for i, f := range meta.Finalizers {
		if !strings.Contains(f, "/") && !standardFinalizers.Has(f) {
			allErrs = append(allErrs, field.Invalid(metaPath.Child("finalizers").Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return allErrs
}

// validateService is ValidateService; old (nil on create) only relaxes IP syntax checks for
// values that were already stored.
func validateService(svc *corev1.Service, old *corev1.Service) field.ErrorList {
	allErrs := validateObjectMeta(&svc.ObjectMeta)
	metaPath := field.NewPath("metadata")
	hintsVal, hintsSet := svc.Annotations[corev1.DeprecatedAnnotationTopologyAwareHints]
	modeVal, modeSet := svc.Annotations[corev1.AnnotationTopologyMode]
	if modeSet && hintsSet && modeVal != hintsVal {
		msg := fmt.Sprintf("must match annotations[%s] when both are specified", corev1.DeprecatedAnnotationTopologyAwareHints)
		allErrs = append(allErrs, field.Invalid(metaPath.Child("annotations").Key(corev1.AnnotationTopologyMode), modeVal, msg))
	}

	specPath := field.NewPath("spec")
	portsPath := specPath.Child("ports")
	headless := isHeadless(svc)
	if len(svc.Spec.Ports) == 0 && !headless && svc.Spec.Type != corev1.ServiceTypeExternalName {
		allErrs = append(allErrs, field.Required(portsPath, ""))
	}
	allErrs = append(allErrs, validateTypeSpecific(svc, specPath)...)

	allNames := sets.New[string]()
	for i := range svc.Spec.Ports {
		allErrs = append(allErrs, validateServicePort(&svc.Spec.Ports[i], len(svc.Spec.Ports) > 1, allNames, portsPath.Index(i))...)
	}
	if svc.Spec.Selector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabels(svc.Spec.Selector, specPath.Child("selector"))...)
	}
	allErrs = append(allErrs, validateSessionAffinity(svc, specPath)...)
	allErrs = append(allErrs, validateClusterIPsRelatedFields(svc, old)...)

	var oldExternalIPs []string
	if old != nil {
		oldExternalIPs = old.Spec.ExternalIPs
	}
	for i, ip := range svc.Spec.ExternalIPs {
		idxPath := specPath.Child("externalIPs").Index(i)
		if errs := validation.IsValidIPForLegacyField(idxPath, ip, strictIPValidation, oldExternalIPs); len(errs) != 0 {
			allErrs = append(allErrs, errs...)
		} else {
			allErrs = append(allErrs, validateNonSpecialIP(ip, idxPath)...)
		}
	}

	if len(svc.Spec.Type) == 0 {
		allErrs = append(allErrs, field.Required(specPath.Child("type"), ""))
	} else if !supportedServiceType.Has(svc.Spec.Type) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("type"), svc.Spec.Type, sets.List(supportedServiceType)))
	}
	if svc.Spec.Type == corev1.ServiceTypeClusterIP {
		for i := range svc.Spec.Ports {
			if svc.Spec.Ports[i].NodePort != 0 {
				allErrs = append(allErrs, field.Forbidden(portsPath.Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
	}
	allErrs = append(allErrs, validateDuplicatePorts(svc, portsPath)...)
	allErrs = append(allErrs, validateSourceRanges(svc, specPath, old)...)

	if svc.Spec.AllocateLoadBalancerNodePorts != nil && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.AllocateLoadBalancerNodePorts == nil {
		// Upstream reports this path without the "spec" prefix.
		allErrs = append(allErrs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}
	allErrs = append(allErrs, validateLoadBalancerClassField(nil, svc)...)
	allErrs = append(allErrs, validateExternalTrafficPolicy(svc)...)
	allErrs = append(allErrs, validateInternalTrafficPolicy(svc)...)
	if td := svc.Spec.TrafficDistribution; td != nil && !slices.Contains(supportedTrafficDistribution, *td) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("trafficDistribution"), *td, supportedTrafficDistribution))
	}
	return allErrs
}

func validateTypeSpecific(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch svc.Spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		for i := range svc.Spec.Ports {
			if svc.Spec.Ports[i].Port == kubeletPort {
				allErrs = append(allErrs, field.Invalid(specPath.Child("ports").Index(i), svc.Spec.Ports[i].Port,
					fmt.Sprintf("may not expose port %v externally since it is used by kubelet", kubeletPort)))
			}
		}
		if isHeadless(svc) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIPs").Index(0), svc.Spec.ClusterIPs[0], "may not be set to 'None' for LoadBalancer services"))
		}
	case corev1.ServiceTypeNodePort:
		if isHeadless(svc) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIPs").Index(0), svc.Spec.ClusterIPs[0], "may not be set to 'None' for NodePort services"))
		}
	case corev1.ServiceTypeExternalName:
		if len(svc.Spec.ClusterIPs) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(svc.Spec.IPFamilies) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if svc.Spec.IPFamilyPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// The value (a CNAME) may have a trailing dot to denote it as fully qualified.
		if cname := strings.TrimSuffix(svc.Spec.ExternalName, "."); len(cname) > 0 {
			for _, msg := range validation.IsDNS1123Subdomain(cname) {
				allErrs = append(allErrs, field.Invalid(specPath.Child("externalName"), cname, msg))
			}
		} else {
			allErrs = append(allErrs, field.Required(specPath.Child("externalName"), ""))
		}
	}
	return allErrs
}

func validateServicePort(sp *corev1.ServicePort, requireName bool, allNames sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if requireName && len(sp.Name) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else if len(sp.Name) != 0 {
		for _, msg := range validation.IsDNS1123Label(sp.Name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), sp.Name, msg))
		}
		if allNames.Has(sp.Name) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Child("name"), sp.Name))
		} else {
			allNames.Insert(sp.Name)
		}
	}
	for _, msg := range validation.IsValidPortNum(int(sp.Port)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("port"), sp.Port, msg))
	}
	if len(sp.Protocol) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("protocol"), ""))
	} else if !supportedPortProtocols.Has(sp.Protocol) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("protocol"), sp.Protocol, sets.List(supportedPortProtocols)))
	}
	allErrs = append(allErrs, validatePortNumOrName(sp.TargetPort, fldPath.Child("targetPort"))...)
	if sp.AppProtocol != nil {
		for _, msg := range validation.IsQualifiedName(*sp.AppProtocol) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("appProtocol"), *sp.AppProtocol, msg))
		}
	}
	return allErrs
}

func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			allErrs = append(allErrs, field.Invalid(fldPath, port.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			allErrs = append(allErrs, field.Invalid(fldPath, port.StrVal, msg))
		}
	default:
		allErrs = append(allErrs, field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type)))
	}
	return allErrs
}

func validateSessionAffinity(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(svc.Spec.SessionAffinity) == 0 {
		allErrs = append(allErrs, field.Required(specPath.Child("sessionAffinity"), ""))
	} else if !supportedSessionAffinityType.Has(svc.Spec.SessionAffinity) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("sessionAffinity"), svc.Spec.SessionAffinity, sets.List(supportedSessionAffinityType)))
	}
	cfgPath := specPath.Child("sessionAffinityConfig")
	switch svc.Spec.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		required := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
		cfg := svc.Spec.SessionAffinityConfig
		switch {
		case cfg == nil:
			allErrs = append(allErrs, field.Required(cfgPath, required))
		case cfg.ClientIP == nil:
			allErrs = append(allErrs, field.Required(cfgPath.Child("clientIP"), required))
		case cfg.ClientIP.TimeoutSeconds == nil:
			allErrs = append(allErrs, field.Required(cfgPath.Child("clientIP").Child("timeoutSeconds"), required))
		default:
			if t := *cfg.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPServiceAffinitySeconds {
				allErrs = append(allErrs, field.Invalid(cfgPath.Child("clientIP").Child("timeoutSeconds"), t,
					fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPServiceAffinitySeconds)))
			}
		}
	case corev1.ServiceAffinityNone:
		if svc.Spec.SessionAffinityConfig != nil {
			allErrs = append(allErrs, field.Forbidden(cfgPath, fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	}
	return allErrs
}

// internalServicePort mirrors the field layout of the internal core.ServicePort, whose JSON
// rendering (no json tags) is what upstream prints for duplicate ports.
type internalServicePort struct {
	Name        string
	Protocol    corev1.Protocol
	AppProtocol *string
	Port        int32
	TargetPort  intstr.IntOrString
	NodePort    int32
}

func validateDuplicatePorts(svc *corev1.Service, portsPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	type key struct {
		protocol corev1.Protocol
		port     int32
	}
	nodePorts := map[key]bool{}
	for i, p := range svc.Spec.Ports {
		if p.NodePort == 0 {
			continue
		}
		k := key{p.Protocol, p.NodePort}
		if nodePorts[k] {
			allErrs = append(allErrs, field.Duplicate(portsPath.Index(i).Child("nodePort"), p.NodePort))
		}
		nodePorts[k] = true
	}
	ports := map[key]bool{}
	for i, p := range svc.Spec.Ports {
		k := key{p.Protocol, p.Port}
		if ports[k] {
			allErrs = append(allErrs, field.Duplicate(portsPath.Index(i), internalServicePort{Protocol: p.Protocol, Port: p.Port}))
		}
		ports[k] = true
	}
	return allErrs
}

func validateSourceRanges(svc *corev1.Service, specPath *field.Path, old *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	var oldRanges []string
	if old != nil {
		oldRanges = old.Spec.LoadBalancerSourceRanges
	}
	if len(svc.Spec.LoadBalancerSourceRanges) > 0 {
		fieldPath := specPath.Child("LoadBalancerSourceRanges")
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, field.Forbidden(fieldPath, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, value := range svc.Spec.LoadBalancerSourceRanges {
			// Historically these values may be space-padded.
			value = strings.TrimSpace(value)
			allErrs = append(allErrs, validation.IsValidCIDRForLegacyField(fieldPath.Index(i), value, strictIPValidation, oldRanges)...)
		}
	} else if val, ok := svc.Annotations[corev1.AnnotationLoadBalancerSourceRangesKey]; ok {
		fieldPath := field.NewPath("metadata", "annotations").Key(corev1.AnnotationLoadBalancerSourceRangesKey)
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, field.Forbidden(fieldPath, "may only be used when `type` is 'LoadBalancer'"))
		}
		if val = strings.TrimSpace(val); val != "" {
			for _, value := range strings.Split(val, ",") {
				allErrs = append(allErrs, validation.IsValidCIDRForLegacyField(fieldPath, strings.TrimSpace(value), strictIPValidation, nil)...)
			}
		}
	}
	return allErrs
}

func validateLoadBalancerClassField(old, svc *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("spec", "loadBalancerClass")
	isLB := func(s *corev1.Service) bool { return s.Spec.Type == corev1.ServiceTypeLoadBalancer }
	if old != nil && isLB(old) && isLB(svc) && !sameLoadBalancerClass(old, svc) {
		allErrs = append(allErrs, field.Invalid(fldPath, svc.Spec.LoadBalancerClass, "may not change once set"))
	}
	if isLB(svc) {
		if svc.Spec.LoadBalancerClass != nil {
			for _, msg := range validation.IsQualifiedName(*svc.Spec.LoadBalancerClass) {
				allErrs = append(allErrs, field.Invalid(fldPath, *svc.Spec.LoadBalancerClass, msg))
			}
		}
	} else if svc.Spec.LoadBalancerClass != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath, "may only be used when `type` is 'LoadBalancer'"))
	}
	return allErrs
}

func validateExternalTrafficPolicy(svc *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("spec")
	if !externallyAccessible(svc) {
		if svc.Spec.ExternalTrafficPolicy != "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("externalTrafficPolicy"), svc.Spec.ExternalTrafficPolicy,
				"may only be set for externally-accessible services"))
		}
	} else if svc.Spec.ExternalTrafficPolicy == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("externalTrafficPolicy"), ""))
	} else if !supportedExternalTrafficPolicy.Has(svc.Spec.ExternalTrafficPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("externalTrafficPolicy"), svc.Spec.ExternalTrafficPolicy, sets.List(supportedExternalTrafficPolicy)))
	}
	hcPath := fldPath.Child("healthCheckNodePort")
	if !needsHealthCheck(svc) {
		if svc.Spec.HealthCheckNodePort != 0 {
			allErrs = append(allErrs, field.Invalid(hcPath, svc.Spec.HealthCheckNodePort,
				"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
	} else if svc.Spec.HealthCheckNodePort == 0 {
		allErrs = append(allErrs, field.Required(hcPath, ""))
	} else {
		for _, msg := range validation.IsValidPortNum(int(svc.Spec.HealthCheckNodePort)) {
			allErrs = append(allErrs, field.Invalid(hcPath, svc.Spec.HealthCheckNodePort, msg))
		}
	}
	return allErrs
}

func validateInternalTrafficPolicy(svc *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("spec").Child("internalTrafficPolicy")
	if svc.Spec.InternalTrafficPolicy == nil {
		switch svc.Spec.Type {
		case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeClusterIP:
			allErrs = append(allErrs, field.Required(fldPath, ""))
		}
	} else if !supportedInternalTrafficPolicy.Has(*svc.Spec.InternalTrafficPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath, *svc.Spec.InternalTrafficPolicy, sets.List(supportedInternalTrafficPolicy)))
	}
	return allErrs
}

// validateNonSpecialIP rejects unspecified, loopback and link-local addresses.
func validateNonSpecialIP(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	ip := netutils.ParseIPSloppy(value)
	if ip == nil {
		return field.ErrorList{field.Invalid(fldPath, value, "must be a valid IP address")}
	}
	if ip.IsUnspecified() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, fmt.Sprintf("may not be unspecified (%v)", value)))
	}
	if ip.IsLoopback() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return allErrs
}

func isHeadless(svc *corev1.Service) bool {
	return svc != nil && len(svc.Spec.ClusterIPs) == 1 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

func sameLoadBalancerClass(a, b *corev1.Service) bool {
	if (a.Spec.LoadBalancerClass == nil) != (b.Spec.LoadBalancerClass == nil) {
		return false
	}
	return a.Spec.LoadBalancerClass == nil || *a.Spec.LoadBalancerClass == *b.Spec.LoadBalancerClass
}
