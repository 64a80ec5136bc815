package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const (
	maxTopologyLabels = 16
	maxAddresses      = 100
	maxPorts          = 20000
	maxEndpoints      = 1000
	maxZoneHints      = 8
	maxNodeHints      = 8
)

var supportedAddressTypes = sets.New(string(discoveryv1.AddressTypeIPv4), string(discoveryv1.AddressTypeIPv6), string(discoveryv1.AddressTypeFQDN))

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := validateObjectMeta(&es.ObjectMeta, true, nameIsDNSSubdomain, field.NewPath("metadata"))
	if es.AddressType == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("addressType"), ""))
	} else if !supportedAddressTypes.Has(string(es.AddressType)) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("addressType"), es.AddressType, sets.List(supportedAddressTypes)))
	}
	allErrs = append(allErrs, validateSliceEndpoints(es.Endpoints, es.AddressType, field.NewPath("endpoints"))...)
	return append(allErrs, validateSlicePorts(es.Ports, field.NewPath("ports"))...)
}

func validateEndpointSliceUpdate(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&es.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateEndpointSlice(es)...)
	return append(allErrs, validateImmutableField(es.AddressType, old.AddressType, field.NewPath("addressType"))...)
}

func validateSliceEndpoints(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > maxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), maxEndpoints)}
	}
	var allErrs field.ErrorList
	for i, ep := range endpoints {
		idxPath := fldPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(addrPath, "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxAddresses {
			allErrs = append(allErrs, field.TooMany(addrPath, len(ep.Addresses), maxAddresses))
		}
		for j, a := range ep.Addresses {
			p := addrPath.Index(j)
			switch addrType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				if errs := validation.IsValidIPForLegacyField(p, a, strictIPValidation, nil); len(errs) > 0 {
					allErrs = append(allErrs, errs...)
					continue
				}
				if addrType == discoveryv1.AddressTypeIPv4 && !netutils.IsIPv4String(a) {
					allErrs = append(allErrs, field.Invalid(p, a, "must be an IPv4 address"))
				}
				if addrType == discoveryv1.AddressTypeIPv6 && !netutils.IsIPv6String(a) {
					allErrs = append(allErrs, field.Invalid(p, a, "must be an IPv6 address"))
				}
				allErrs = append(allErrs, validateNonSpecialIP(a, p)...)
			case discoveryv1.AddressTypeFQDN:
				allErrs = append(allErrs, validation.IsFullyQualifiedDomainName(p, a)...)
			}
		}
		if ep.NodeName != nil {
			allErrs = append(allErrs, validateNameWith(nameIsDNSSubdomain, *ep.NodeName, idxPath.Child("nodeName"))...)
		}
		topoPath := idxPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxTopologyLabels {
			allErrs = append(allErrs, field.TooMany(topoPath, len(ep.DeprecatedTopology), maxTopologyLabels))
		}
		allErrs = append(allErrs, metav1validation.ValidateLabels(ep.DeprecatedTopology, topoPath)...)
		if _, ok := ep.DeprecatedTopology[corev1.LabelTopologyZone]; ok {
			allErrs = append(allErrs, field.InternalError(topoPath.Key(corev1.LabelTopologyZone), fmt.Errorf("reserved key was not removed in conversion")))
		}
		if ep.Hostname != nil {
			allErrs = append(allErrs, validateDNS1123Label(*ep.Hostname, idxPath.Child("hostname"))...)
		}
		if ep.Hints != nil {
			allErrs = append(allErrs, validateHints(ep.Hints, idxPath.Child("hints"))...)
		}
	}
	return allErrs
}

func validateHints(h *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	fz := fldPath.Child("forZones")
	if len(h.ForZones) > maxZoneHints {
		return field.ErrorList{field.TooMany(fz, len(h.ForZones), maxZoneHints)}
	}
	zones := sets.New[string]()
	for i, z := range h.ForZones {
		p := fz.Index(i).Child("name")
		if zones.Has(z.Name) {
			allErrs = append(allErrs, field.Duplicate(p, z.Name))
		} else {
			zones.Insert(z.Name)
		}
		for _, msg := range validation.IsValidLabelValue(z.Name) {
			allErrs = append(allErrs, field.Invalid(p, z.Name, msg))
		}
	}
	fn := fldPath.Child("forNodes")
	if len(h.ForNodes) > maxNodeHints {
		return append(allErrs, field.TooMany(fn, len(h.ForNodes), maxNodeHints))
	}
	nodes := sets.New[string]()
	for i, n := range h.ForNodes {
		p := fn.Index(i).Child("name")
		if nodes.Has(n.Name) {
			allErrs = append(allErrs, field.Duplicate(p, n.Name))
		} else {
			nodes.Insert(n.Name)
		}
		allErrs = append(allErrs, validateNameWith(nameIsDNSSubdomain, n.Name, p)...)
	}
	return allErrs
}

func validateSlicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxPorts)}
	}
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if len(name) > 0 {
			allErrs = append(allErrs, validateDNS1123Label(name, idxPath.Child("name"))...)
		}
		if names.Has(name) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), p.Name))
		} else {
			names.Insert(name)
		}
		if p.Protocol == nil {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else if !supportedPortProtocols.Has(*p.Protocol) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("protocol"), *p.Protocol, sets.List(supportedPortProtocols)))
		}
		if p.AppProtocol != nil {
			allErrs = append(allErrs, validateQualifiedName(*p.AppProtocol, idxPath.Child("appProtocol"))...)
		}
	}
	return allErrs
}
