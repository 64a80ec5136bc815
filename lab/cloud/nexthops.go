package cloud

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// nexthops returns the InternalIPs of the nodes a Service's load balancer sends traffic to,
// sorted: every Ready node not labelled ExcludeLabel, and with externalTrafficPolicy Local
// only those with a ready endpoint of the Service (what a cloud's health check on
// kube-proxy's healthCheckNodePort finds).
func (c *controller) nexthops(svc *corev1.Service) ([]netip.Addr, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	byName := map[string]netip.Addr{}
	for _, n := range nodes {
		if _, excluded := n.Labels[ExcludeLabel]; excluded || !nodeReady(n) {
			continue
		}
		if ip, ok := internalIP(n); ok {
			byName[n.Name] = ip
		}
	}
	if len(byName) == 0 {
		c.warn(svc, ReasonNoNodes, "There are no available nodes for LoadBalancer")
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		local, err := c.nodesWithEndpoints(svc)
		if err != nil {
			return nil, err
		}
		for name := range byName {
			if !local[name] {
				delete(byName, name)
			}
		}
	}
	out := make([]netip.Addr, 0, len(byName))
	for _, ip := range byName {
		out = append(out, ip)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// nodesWithEndpoints names the nodes with a ready endpoint of svc.
func (c *controller) nodesWithEndpoints(svc *corev1.Service) (map[string]bool, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name})
	slices, err := c.slices.EndpointSlices(svc.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, ep := range s.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if ready && ep.NodeName != nil {
				out[*ep.NodeName] = true
			}
		}
	}
	return out, nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func internalIP(n *corev1.Node) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}
