package printers

import (
	"fmt"
	"strconv"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	networkingv1beta1 "k8s.io/api/networking/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var endpointSliceHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "AddressType", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["addressType"]},
		{Name: "Ports", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["ports"]},
		{Name: "Endpoints", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["endpoints"]},
		ageColumn(),
	},
	row: typed(func(obj *discoveryv1.EndpointSlice) (metav1.TableRow, error) {
		return metav1.TableRow{
			Cells: []interface{}{obj.Name, string(obj.AddressType), formatDiscoveryPorts(obj.Ports), formatDiscoveryEndpoints(obj.Endpoints),
				translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

var ingressHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Class", Type: "string", Description: "The name of the IngressClass resource that should be used for additional configuration"},
		{Name: "Hosts", Type: "string", Description: "Hosts that incoming requests are matched against before the ingress rule"},
		{Name: "Address", Type: "string", Description: "Address is a list containing ingress points for the load-balancer"},
		{Name: "Ports", Type: "string", Description: "Ports of TLS configurations that open"},
		ageColumn(),
	},
	row: typed(printIngress),
}

var ingressClassHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Controller", Type: "string", Description: "Controller that is responsible for handling this class"},
		{Name: "Parameters", Type: "string", Description: "A reference to a resource with additional parameters"},
		ageColumn(),
	},
	row: typed(func(obj *networkingv1.IngressClass) (metav1.TableRow, error) {
		parameters := "<none>"
		if p := obj.Spec.Parameters; p != nil {
			parameters = p.Kind
			if p.APIGroup != nil {
				parameters = parameters + "." + *p.APIGroup
			}
			parameters = parameters + "/" + p.Name
		}
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, obj.Spec.Controller, parameters, translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

var serviceCIDRHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "CIDRs", Type: "string", Description: networkingv1beta1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"]},
		ageColumn(),
	},
	row: typed(func(obj *networkingv1.ServiceCIDR) (metav1.TableRow, error) {
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, strings.Join(obj.Spec.CIDRs, ","), translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

// ipAddressHandler copies upstream faithfully: two columns (no AGE header) but three cells per
// row; kubectl ignores cells beyond the columns, so `kubectl get ipaddresses` shows NAME PARENTREF.
var ipAddressHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "ParentRef", Type: "string", Description: networkingv1beta1.IPAddressSpec{}.SwaggerDoc()["parentRef"]},
	},
	row: typed(func(obj *networkingv1.IPAddress) (metav1.TableRow, error) {
		parentRefName := "<none>"
		if ref := obj.Spec.ParentRef; ref != nil {
			parentRefName = strings.ToLower(schema.GroupResource{Group: ref.Group, Resource: ref.Resource}.String())
			if ref.Namespace != "" {
				parentRefName += "/" + ref.Namespace
			}
			parentRefName += "/" + ref.Name
		}
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, parentRefName, translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

// printIngress ports upstream's printIngress; ADDRESS is unclipped because the server prints wide.
func printIngress(obj *networkingv1.Ingress) (metav1.TableRow, error) {
	className := "<none>"
	if obj.Spec.IngressClassName != nil {
		className = *obj.Spec.IngressClassName
	}
	addrs := make([]string, 0, len(obj.Status.LoadBalancer.Ingress))
	for _, in := range obj.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			addrs = append(addrs, in.IP)
		} else if in.Hostname != "" {
			addrs = append(addrs, in.Hostname)
		}
	}
	return metav1.TableRow{
		Cells: []interface{}{obj.Name, className, formatHosts(obj.Spec.Rules), joinClipped(addrs, true), formatIngressPorts(obj.Spec.TLS),
			translateTimestampSince(obj.CreationTimestamp)},
		Object: runtime.RawExtension{Object: obj},
	}, nil
}

// formatHosts lists up to three rule hosts, "*" when no rule names one.
func formatHosts(rules []networkingv1.IngressRule) string {
	list := []string{}
	max := 3
	more := false
	for _, rule := range rules {
		if len(list) == max {
			more = true
		}
		if !more && len(rule.Host) != 0 {
			list = append(list, rule.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, len(rules)-max)
	}
	return ret
}

func formatIngressPorts(tls []networkingv1.IngressTLS) string {
	if len(tls) != 0 {
		return "80, 443"
	}
	return "80"
}

// formatDiscoveryPorts lists up to three port numbers (the name, or "*", when unset).
func formatDiscoveryPorts(ports []discoveryv1.EndpointPort) string {
	list := []string{}
	max := 3
	more := false
	count := 0
	for _, port := range ports {
		if len(list) < max {
			portNum := "*"
			if port.Port != nil {
				portNum = strconv.Itoa(int(*port.Port))
			} else if port.Name != nil {
				portNum = *port.Name
			}
			list = append(list, portNum)
		} else if len(list) == max {
			more = true
		}
		count++
	}
	return listWithMoreString(list, more, count, max)
}

// formatDiscoveryEndpoints lists up to three endpoint addresses.
func formatDiscoveryEndpoints(endpoints []discoveryv1.Endpoint) string {
	list := []string{}
	max := 3
	more := false
	count := 0
	for _, endpoint := range endpoints {
		for _, address := range endpoint.Addresses {
			if len(list) < max {
				list = append(list, address)
			} else if len(list) == max {
				more = true
			}
			count++
		}
	}
	return listWithMoreString(list, more, count, max)
}
