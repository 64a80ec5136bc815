package validation

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
	"k8s.io/utils/ptr"
)

const (
	annotationIngressClass       = "kubernetes.io/ingress.class"
	maxLenIngressClassController = 250
)

var (
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
	supportedPathTypes   = sets.New(string(networkingv1.PathTypeExact), string(networkingv1.PathTypePrefix), string(networkingv1.PathTypeImplementationSpecific))

	supportedIngressClassParametersReferenceScopes = sets.New(networkingv1.IngressClassParametersReferenceScopeNamespace, networkingv1.IngressClassParametersReferenceScopeCluster)
)

type ingressOpts struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

func validateIngressCreate(ing *networkingv1.Ingress) field.ErrorList {
	allErrs := validateIngress(ing, ingressOpts{})
	if v, ok := ing.Annotations[annotationIngressClass]; ok && ing.Spec.IngressClassName != nil && v != *ing.Spec.IngressClassName {
		allErrs = append(allErrs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), v, "must match `ingressClassName` when both are specified"))
	}
	return allErrs
}

func validateIngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	opts := ingressOpts{}
	for _, tls := range old.Spec.TLS {
		if len(validateTLSSecretName(tls.SecretName)) > 0 {
			opts.allowInvalidSecretName = true
		}
	}
	for _, r := range old.Spec.Rules {
		if strings.Contains(r.Host, "*") && len(validateIngressRuleValue(&r.IngressRuleValue, nil)) > 0 {
			opts.allowInvalidWildcardHostRule = true
		}
	}
	return append(allErrs, validateIngress(ing, opts)...)
}

func validateIngress(ing *networkingv1.Ingress, opts ingressOpts) field.ErrorList {
	allErrs := validateObjectMeta(&ing.ObjectMeta, true, nameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateIngressSpec(&ing.Spec, field.NewPath("spec"), opts)...)
}

func validateIngressSpec(spec *networkingv1.IngressSpec, fldPath *field.Path, opts ingressOpts) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		allErrs = append(allErrs, field.Invalid(fldPath, spec.Rules, fmt.Sprintf("either `%s` or `rules` must be specified", "defaultBackend")))
	}
	if spec.DefaultBackend != nil {
		allErrs = append(allErrs, validateIngressBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	}
	if len(spec.Rules) > 0 {
		allErrs = append(allErrs, validateIngressRules(spec.Rules, fldPath.Child("rules"), opts)...)
	}
	for ti, tls := range spec.TLS {
		tp := fldPath.Child("tls").Index(ti)
		for i, host := range tls.Hosts {
			allErrs = append(allErrs, validateHost(host, tp.Child("hosts").Index(i))...)
		}
		if !opts.allowInvalidSecretName {
			for _, msg := range validateTLSSecretName(tls.SecretName) {
				allErrs = append(allErrs, field.Invalid(tp.Child("secretName"), tls.SecretName, msg))
			}
		}
	}
	if spec.IngressClassName != nil {
		allErrs = append(allErrs, validateNameWith(nameIsDNSSubdomain, *spec.IngressClassName, fldPath.Child("ingressClassName"))...)
	}
	return allErrs
}

// validateHost checks a plain or wildcard DNS name.
func validateHost(host string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	check := validation.IsDNS1123Subdomain
	if strings.Contains(host, "*") {
		check = validation.IsWildcardDNS1123Subdomain
	}
	for _, msg := range check(host) {
		allErrs = append(allErrs, field.Invalid(fldPath, host, msg))
	}
	return allErrs
}

func validateTLSSecretName(name string) []string {
	if len(name) == 0 {
		return nil
	}
	return nameIsDNSSubdomain(name, false)
}

func validateIngressRules(rules []networkingv1.IngressRule, fldPath *field.Path, opts ingressOpts) field.ErrorList {
	var allErrs field.ErrorList
	for i, r := range rules {
		wildcard := false
		if len(r.Host) > 0 {
			if netutils.ParseIPSloppy(r.Host) != nil {
				allErrs = append(allErrs, field.Invalid(fldPath.Index(i).Child("host"), r.Host, "must be a DNS name, not an IP address"))
			}
			wildcard = strings.Contains(r.Host, "*")
			allErrs = append(allErrs, validateHost(r.Host, fldPath.Index(i).Child("host"))...)
		}
		if !wildcard || !opts.allowInvalidWildcardHostRule {
			allErrs = append(allErrs, validateIngressRuleValue(&r.IngressRuleValue, fldPath.Index(i))...)
		}
	}
	return allErrs
}

func validateIngressRuleValue(rv *networkingv1.IngressRuleValue, fldPath *field.Path) field.ErrorList {
	if rv.HTTP == nil {
		return nil
	}
	var allErrs field.ErrorList
	hp := fldPath.Child("http")
	if len(rv.HTTP.Paths) == 0 {
		allErrs = append(allErrs, field.Required(hp.Child("paths"), ""))
	}
	for i := range rv.HTTP.Paths {
		allErrs = append(allErrs, validateHTTPIngressPath(&rv.HTTP.Paths[i], hp.Child("paths").Index(i))...)
	}
	return allErrs
}

func validateHTTPIngressPath(path *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var allErrs field.ErrorList
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), path.Path, "must be an absolute path"))
		}
		if len(path.Path) > 0 {
			for _, seq := range invalidPathSequences {
				if strings.Contains(path.Path, seq) {
					allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), path.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suf := range invalidPathSuffixes {
				if strings.HasSuffix(path.Path, suf) {
					allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), path.Path, fmt.Sprintf("cannot end with '%s'", suf)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if len(path.Path) > 0 && !strings.HasPrefix(path.Path, "/") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), path.Path, "must be an absolute path"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("pathType"), *path.PathType, sets.List(supportedPathTypes)))
	}
	return append(allErrs, validateIngressBackend(&path.Backend, fldPath.Child("backend"))...)
}

func validateIngressBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		allErrs = append(allErrs, validateTypedLocalObjectReference(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, fldPath.Child("resource"))...)
	case b.Service != nil:
		if len(b.Service.Name) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("service", "name"), ""))
		} else {
			allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNS1035Label, b.Service.Name, fldPath.Child("service", "name"))...)
		}
		hasName, hasNumber := len(b.Service.Port.Name) > 0, b.Service.Port.Number != 0
		switch {
		case hasName && hasNumber:
			allErrs = append(allErrs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
		case hasName:
			for _, msg := range validation.IsValidPortName(b.Service.Port.Name) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("service", "port", "name"), b.Service.Port.Name, msg))
			}
		case hasNumber:
			for _, msg := range validation.IsValidPortNum(int(b.Service.Port.Number)) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("service", "port", "number"), b.Service.Port.Number, msg))
			}
		default:
			allErrs = append(allErrs, field.Required(fldPath, "port name or number is required"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "resource or service backend is required"))
	}
	return allErrs
}

func validateTypedLocalObjectReference(apiGroup *string, kind, name string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if apiGroup != nil {
		allErrs = append(allErrs, validateDNS1123Subdomain(*apiGroup, fldPath.Child("apiGroup"))...)
	}
	if kind == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), "kind is required"))
	} else {
		allErrs = append(allErrs, validateNameWith(pathvalidation.ValidatePathSegmentName, kind, fldPath.Child("kind"))...)
	}
	if name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "name is required"))
	} else {
		allErrs = append(allErrs, validateNameWith(pathvalidation.ValidatePathSegmentName, name, fldPath.Child("name"))...)
	}
	return allErrs
}

func validateIngressStatusUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status", "loadBalancer")
	for i, lb := range ing.Status.LoadBalancer.Ingress {
		idx := p.Child("ingress").Index(i)
		if len(lb.IP) > 0 {
			allErrs = append(allErrs, validation.IsValidIPForLegacyField(idx.Child("ip"), lb.IP, strictIPValidation, nil)...)
		}
		if len(lb.Hostname) > 0 {
			allErrs = append(allErrs, validateDNS1123Subdomain(lb.Hostname, idx.Child("hostname"))...)
			if netutils.ParseIPSloppy(lb.Hostname) != nil {
				allErrs = append(allErrs, field.Invalid(idx.Child("hostname"), lb.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return allErrs
}

func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	allErrs := validateObjectMeta(&ic.ObjectMeta, false, nameIsDNSSubdomain, field.NewPath("metadata"))
	p := field.NewPath("spec")
	if len(ic.Spec.Controller) > maxLenIngressClassController {
		allErrs = append(allErrs, field.TooLong(p.Child("controller"), "", maxLenIngressClassController))
	}
	allErrs = append(allErrs, validation.IsDomainPrefixedPath(p.Child("controller"), ic.Spec.Controller)...)
	return append(allErrs, validateIngressClassParameters(ic.Spec.Parameters, p.Child("parameters"))...)
}

func validateIngressClassParameters(params *networkingv1.IngressClassParametersReference, fldPath *field.Path) field.ErrorList {
	if params == nil {
		return nil
	}
	allErrs := validateTypedLocalObjectReference(params.APIGroup, params.Kind, params.Name, fldPath)
	if params.Scope == nil {
		return append(allErrs, field.Required(fldPath.Child("scope"), ""))
	}
	scope := ptr.Deref(params.Scope, "")
	switch {
	case !supportedIngressClassParametersReferenceScopes.Has(scope):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("scope"), scope, sets.List(supportedIngressClassParametersReferenceScopes)))
	case scope == networkingv1.IngressClassParametersReferenceScopeNamespace:
		if params.Namespace == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			allErrs = append(allErrs, validateNameWith(apimachineryvalidation.ValidateNamespaceName, *params.Namespace, fldPath.Child("namespace"))...)
		}
	case scope == networkingv1.IngressClassParametersReferenceScopeCluster && params.Namespace != nil:
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
	}
	return allErrs
}

func validateIngressClassUpdate(ic, old *networkingv1.IngressClass) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ic.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateImmutableField(ic.Spec.Controller, old.Spec.Controller, field.NewPath("spec").Child("controller"))...)
	return append(allErrs, validateIngressClass(ic)...)
}

// validateIPAddressName: an IPAddress is named after its IP, in canonical form.
func validateIPAddressName(name string, _ bool) []string {
	var errs []string
	for _, err := range validation.IsValidIP(&field.Path{}, name) {
		errs = append(errs, err.Detail)
	}
	return errs
}

func validateIPAddress(ip *networkingv1.IPAddress) field.ErrorList {
	allErrs := validateObjectMeta(&ip.ObjectMeta, false, validateIPAddressName, field.NewPath("metadata"))
	fldPath := field.NewPath("spec")
	ref := ip.Spec.ParentRef
	if ref == nil {
		return append(allErrs, field.Required(fldPath.Child("parentRef"), ""))
	}
	fldPath = fldPath.Child("parentRef")
	if ref.Group != "" {
		allErrs = append(allErrs, validateDNS1123Subdomain(ref.Group, fldPath.Child("group"))...)
	}
	for _, f := range []struct {
		name, value string
		required    bool
	}{{"resource", ref.Resource, true}, {"name", ref.Name, true}, {"namespace", ref.Namespace, false}} {
		if f.value == "" {
			if f.required {
				allErrs = append(allErrs, field.Required(fldPath.Child(f.name), ""))
			}
			continue
		}
		allErrs = append(allErrs, validateNameWith(pathvalidation.ValidatePathSegmentName, f.value, fldPath.Child(f.name))...)
	}
	return allErrs
}

func validateIPAddressUpdate(ip, old *networkingv1.IPAddress) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ip.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateImmutableField(ip.Spec.ParentRef, old.Spec.ParentRef, field.NewPath("spec").Child("parentRef"))...)
}

func validateServiceCIDR(sc *networkingv1.ServiceCIDR) field.ErrorList {
	allErrs := validateObjectMeta(&sc.ObjectMeta, false, nameIsDNSSubdomain, field.NewPath("metadata"))
	p := field.NewPath("spec", "cidrs")
	switch n := len(sc.Spec.CIDRs); {
	case n == 0:
		return append(allErrs, field.Required(p, "at least one CIDR required"))
	case n > 2:
		return append(allErrs, field.Invalid(p, sc.Spec, "may only hold up to 2 values"))
	case n == 2:
		if dual, err := netutils.IsDualStackCIDRStrings(sc.Spec.CIDRs); err != nil || !dual {
			return append(allErrs, field.Invalid(p, sc.Spec, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	for i, cidr := range sc.Spec.CIDRs {
		allErrs = append(allErrs, validation.IsValidCIDR(p.Index(i), cidr)...)
	}
	return allErrs
}

// validateServiceCIDRUpdate: CIDRs are immutable, except that a single-stack ServiceCIDR may
// gain a second CIDR of the other family.
func validateServiceCIDRUpdate(sc, old *networkingv1.ServiceCIDR) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("spec").Child("cidrs")
	switch {
	case len(old.Spec.CIDRs) == len(sc.Spec.CIDRs):
		for i, c := range old.Spec.CIDRs {
			if c != sc.Spec.CIDRs[i] {
				allErrs = append(allErrs, field.Invalid(p.Index(i), sc.Spec.CIDRs[i], fieldImmutableErrorMsg))
			}
		}
	case len(old.Spec.CIDRs) == 1 && len(sc.Spec.CIDRs) == 2:
		if sc.Spec.CIDRs[0] != old.Spec.CIDRs[0] {
			allErrs = append(allErrs, field.Invalid(p.Index(0), sc.Spec.CIDRs[0], fieldImmutableErrorMsg))
		}
		allErrs = append(allErrs, validateServiceCIDR(sc)...)
	default:
		allErrs = append(allErrs, field.Invalid(p, sc.Spec.CIDRs, fieldImmutableErrorMsg))
	}
	return allErrs
}

func validateServiceCIDRStatusUpdate(sc, old *networkingv1.ServiceCIDR) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, metav1validation.ValidateConditions(sc.Status.Conditions, field.NewPath("status", "conditions"))...)
}
