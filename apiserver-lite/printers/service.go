package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// loadBalancerWidth is where a non-wide EXTERNAL-IP or ADDRESS is clipped with "...".
const loadBalancerWidth = 16

var serviceHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Type", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["type"]},
		{Name: "Cluster-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]},
		{Name: "External-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]},
		{Name: "Port(s)", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["ports"]},
		ageColumn(),
		{Name: "Selector", Type: "string", Priority: 1, Description: corev1.ServiceSpec{}.SwaggerDoc()["selector"]},
	},
	row: typed(printService),
}

var endpointsHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
		ageColumn(),
	},
	row: typed(printEndpoints),
}

// printService ports upstream's printService. The server generates wide output, so the
// EXTERNAL-IP of a LoadBalancer is never clipped here, exactly as kube-apiserver serves it.
func printService(obj *corev1.Service) (metav1.TableRow, error) {
	row := metav1.TableRow{Object: runtime.RawExtension{Object: obj}}
	internalIP := firstClusterIP(&obj.Spec)
	if internalIP == "" {
		internalIP = "<none>"
	}
	svcPorts := makePortString(obj.Spec.Ports)
	if len(svcPorts) == 0 {
		svcPorts = "<none>"
	}
	row.Cells = append(row.Cells, obj.Name, string(obj.Spec.Type), internalIP, getServiceExternalIP(obj, true), svcPorts,
		translateTimestampSince(obj.CreationTimestamp), labels.FormatLabels(obj.Spec.Selector))
	return row, nil
}

// firstClusterIP is the service's primary cluster IP as the internal type sees it after
// conversion from v1: spec.clusterIP wins over spec.clusterIPs[0].
func firstClusterIP(spec *corev1.ServiceSpec) string {
	if spec.ClusterIP != "" {
		return spec.ClusterIP
	}
	if len(spec.ClusterIPs) > 0 {
		return spec.ClusterIPs[0]
	}
	return ""
}

// loadBalancerStatusStringer joins the sorted, de-duplicated ingress IPs (or hostnames), clipped
// to loadBalancerWidth unless wide.
func loadBalancerStatusStringer(ingress []corev1.LoadBalancerIngress, wide bool) string {
	addrs := make([]string, 0, len(ingress))
	for i := range ingress {
		if ingress[i].IP != "" {
			addrs = append(addrs, ingress[i].IP)
		} else if ingress[i].Hostname != "" {
			addrs = append(addrs, ingress[i].Hostname)
		}
	}
	return joinClipped(addrs, wide)
}

// joinClipped sorts and de-duplicates addrs, joins them with commas and clips the result to
// loadBalancerWidth unless wide (upstream's sets.NewString(...).List() then clip).
func joinClipped(addrs []string, wide bool) string {
	sort.Strings(addrs)
	uniq := addrs[:0]
	for i, a := range addrs {
		if i == 0 || a != addrs[i-1] {
			uniq = append(uniq, a)
		}
	}
	r := strings.Join(uniq, ",")
	if !wide && len(r) > loadBalancerWidth {
		r = r[0:(loadBalancerWidth-3)] + "..."
	}
	return r
}

// getServiceExternalIP is upstream's EXTERNAL-IP: externalIPs or <none> for ClusterIP and
// NodePort, load-balancer ingress plus externalIPs or <pending> for LoadBalancer, the external
// name for ExternalName, <unknown> for anything else.
func getServiceExternalIP(svc *corev1.Service, wide bool) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		lbIps := loadBalancerStatusStringer(svc.Status.LoadBalancer.Ingress, wide)
		if len(svc.Spec.ExternalIPs) > 0 {
			results := []string{}
			if len(lbIps) > 0 {
				results = append(results, strings.Split(lbIps, ",")...)
			}
			results = append(results, svc.Spec.ExternalIPs...)
			return strings.Join(results, ",")
		}
		if len(lbIps) > 0 {
			return lbIps
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// makePortString renders ports as 80/TCP, or 80:31230/TCP when a node port is allocated.
func makePortString(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for ix := range ports {
		port := &ports[ix]
		pieces[ix] = fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		if port.NodePort > 0 {
			pieces[ix] = fmt.Sprintf("%d:%d/%s", port.Port, port.NodePort, port.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

func printEndpoints(obj *corev1.Endpoints) (metav1.TableRow, error) {
	row := metav1.TableRow{Object: runtime.RawExtension{Object: obj}}
	row.Cells = append(row.Cells, obj.Name, formatEndpoints(obj), translateTimestampSince(obj.CreationTimestamp))
	return row, nil
}

// formatEndpoints lists up to three ip:port pairs (bare IPs for port-less subsets) and
// "+ N more..." for the rest, or <none> without subsets.
func formatEndpoints(endpoints *corev1.Endpoints) string {
	if len(endpoints.Subsets) == 0 {
		return "<none>"
	}
	list := []string{}
	max := 3
	more := false
	count := 0
	for i := range endpoints.Subsets {
		ss := &endpoints.Subsets[i]
		if len(ss.Ports) == 0 {
			// headless services may have no ports
			count += len(ss.Addresses)
			for i := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, ss.Addresses[i].IP)
			}
			continue
		}
		for i := range ss.Ports {
			port := &ss.Ports[i]
			count += len(ss.Addresses)
			for i := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				addr := &ss.Addresses[i]
				list = append(list, net.JoinHostPort(addr.IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return ret
}
