package endpointslicemirroring

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	endpointsliceutil "k8s.io/endpointslice/util"
	netutils "k8s.io/utils/net"
)

// Event reasons, as upstream.
const (
	reasonInvalidIPAddress         = "InvalidIPAddress"
	reasonTooManyAddressesToMirror = "TooManyAddressesToMirror"
)

func deleteOptions() metav1.DeleteOptions { return metav1.DeleteOptions{} }

// addrTypePortMapKey groups endpoints by address type and port set.
type addrTypePortMapKey string

func newAddrTypePortMapKey(ports []discovery.EndpointPort, addrType discovery.AddressType) addrTypePortMapKey {
	return addrTypePortMapKey(fmt.Sprintf("%s-%s", addrType, endpointsliceutil.NewPortMapKey(ports)))
}

func (k addrTypePortMapKey) addressType() discovery.AddressType {
	if strings.HasPrefix(string(k), string(discovery.AddressTypeIPv6)) {
		return discovery.AddressTypeIPv6
	}
	return discovery.AddressTypeIPv4
}

// desired is the mirrored state computed from an Endpoints object.
type desired struct {
	portsByKey     map[addrTypePortMapKey][]discovery.EndpointPort
	endpointsByKey map[addrTypePortMapKey]endpointsliceutil.EndpointSet
}

type slicesByAction struct {
	toCreate, toUpdate, toDelete []*discovery.EndpointSlice
}

// reconcile makes the mirrored slices match endpoints: one slice per subset
// port set and address type, as upstream.
func (c *Controller) reconcile(ctx context.Context, endpoints *corev1.Endpoints, existing []*discovery.EndpointSlice) error {
	d := desired{
		portsByKey:     map[addrTypePortMapKey][]discovery.EndpointPort{},
		endpointsByKey: map[addrTypePortMapKey]endpointsliceutil.EndpointSet{},
	}
	invalid, skipped := 0, 0
	for _, subset := range endpoints.Subsets {
		ports := epPortsToEpsPorts(subset.Ports)
		keys := map[discovery.AddressType]addrTypePortMapKey{}
		for _, at := range []discovery.AddressType{discovery.AddressTypeIPv4, discovery.AddressTypeIPv6} {
			keys[at] = newAddrTypePortMapKey(ports, at)
			if _, ok := d.endpointsByKey[keys[at]]; !ok {
				d.endpointsByKey[keys[at]] = endpointsliceutil.EndpointSet{}
			}
			d.portsByKey[keys[at]] = ports
		}
		added := 0
		add := func(addr corev1.EndpointAddress, ready bool) {
			if added >= int(c.maxEndpointsPerSubset) {
				skipped++
				return
			}
			ep, at := addressToEndpoint(addr, ready)
			if ep == nil {
				invalid++
				skipped++
				c.log.Warn("address in endpoints is not a valid IP, not mirrored", "endpoints", endpoints.Namespace+"/"+endpoints.Name, "ip", addr.IP)
				return
			}
			d.endpointsByKey[keys[at]].Insert(ep)
			added++
		}
		for _, a := range subset.Addresses {
			add(a, true)
		}
		for _, a := range subset.NotReadyAddresses {
			add(a, false)
		}
	}
	if invalid > 0 {
		c.recorder.Eventf(endpoints, corev1.EventTypeWarning, reasonInvalidIPAddress,
			"Skipped %d invalid IP addresses when mirroring to EndpointSlices", invalid)
	}
	if skipped > invalid {
		c.recorder.Eventf(endpoints, corev1.EventTypeWarning, reasonTooManyAddressesToMirror,
			"A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped", c.maxEndpointsPerSubset, skipped)
	}

	existingByKey := map[addrTypePortMapKey][]*discovery.EndpointSlice{}
	for _, s := range existing {
		k := newAddrTypePortMapKey(s.Ports, s.AddressType)
		existingByKey[k] = append(existingByKey[k], s)
	}
	var slices slicesByAction
	for key, set := range d.endpointsByKey {
		pm := reconcileByPortMapping(endpoints, existingByKey[key], set, d.portsByKey[key], key.addressType(), int(c.maxEndpointsPerSubset))
		slices.toCreate = append(slices.toCreate, pm.toCreate...)
		slices.toUpdate = append(slices.toUpdate, pm.toUpdate...)
		slices.toDelete = append(slices.toDelete, pm.toDelete...)
	}
	for key, ss := range existingByKey {
		if _, ok := d.endpointsByKey[key]; !ok {
			slices.toDelete = append(slices.toDelete, ss...)
		}
	}
	return c.finalize(ctx, endpoints, slices)
}

// reconcileByPortMapping keeps at most one slice per key, rewriting it only
// when its endpoints, labels or annotations differ from the Endpoints.
func reconcileByPortMapping(endpoints *corev1.Endpoints, existing []*discovery.EndpointSlice, set endpointsliceutil.EndpointSet,
	ports []discovery.EndpointPort, addrType discovery.AddressType, max int) slicesByAction {
	var out slicesByAction
	if set.Len() == 0 {
		out.toDelete = existing
		return out
	}
	sliceName := ""
	if len(existing) > 0 {
		out.toDelete = existing[1:]
		first := existing[0]
		compareAnnotations := cloneAndRemoveKeys(endpoints.Annotations, corev1.EndpointsLastChangeTriggerTime, corev1.LastAppliedConfigAnnotation)
		compareLabels := cloneAndRemoveKeys(first.Labels, discovery.LabelManagedBy, discovery.LabelServiceName)
		if !endpointsChanged(first, set) &&
			apiequality.Semantic.DeepEqual(endpoints.Labels, compareLabels) &&
			apiequality.Semantic.DeepEqual(compareAnnotations, first.Annotations) {
			return out
		}
		sliceName = first.Name
	}
	s := newEndpointSlice(endpoints, ports, addrType, sliceName)
	for set.Len() > 0 && len(s.Endpoints) < max {
		ep, _ := set.PopAny()
		s.Endpoints = append(s.Endpoints, *ep)
	}
	if s.Name != "" {
		out.toUpdate = []*discovery.EndpointSlice{s}
	} else {
		out.toCreate = []*discovery.EndpointSlice{s}
	}
	return out
}

// endpointsChanged reports whether slice's endpoints differ from set.
func endpointsChanged(slice *discovery.EndpointSlice, set endpointsliceutil.EndpointSet) bool {
	matches := 0
	for i := range slice.Endpoints {
		got := set.Get(&slice.Endpoints[i])
		if got == nil || !endpointsliceutil.EndpointsEqualBeyondHash(got, &slice.Endpoints[i]) {
			return true
		}
		matches++
	}
	return set.Len() != matches
}

// finalize writes the changes, turning create+delete pairs into updates.
func (c *Controller) finalize(ctx context.Context, endpoints *corev1.Endpoints, slices slicesByAction) error {
	recycleSlices(&slices)
	client := c.client.DiscoveryV1().EndpointSlices(endpoints.Namespace)
	if endpoints.DeletionTimestamp == nil {
		for _, s := range slices.toCreate {
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("create endpoint slice for endpoints %s/%s: %w", endpoints.Namespace, endpoints.Name, err)
			}
			c.tracker.Update(created)
		}
	}
	for _, s := range slices.toUpdate {
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update endpoint slice %s for endpoints %s/%s: %w", s.Name, endpoints.Namespace, endpoints.Name, err)
		}
		c.tracker.Update(updated)
	}
	for _, s := range slices.toDelete {
		if err := client.Delete(ctx, s.Name, deleteOptions()); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoint slice %s for endpoints %s/%s: %w", s.Name, endpoints.Namespace, endpoints.Name, err)
		}
		c.tracker.ExpectDeletion(s)
	}
	return nil
}

// recycleSlices reuses slices marked for deletion for slices to create of the
// same address type.
func recycleSlices(slices *slicesByAction) {
	var keepCreate []*discovery.EndpointSlice
	for _, s := range slices.toCreate {
		idx := -1
		for i, d := range slices.toDelete {
			if d.AddressType == s.AddressType {
				idx = i
				break
			}
		}
		if idx < 0 {
			keepCreate = append(keepCreate, s)
			continue
		}
		s.Name = slices.toDelete[idx].Name
		s.GenerateName = ""
		slices.toDelete = append(slices.toDelete[:idx], slices.toDelete[idx+1:]...)
		slices.toUpdate = append(slices.toUpdate, s)
	}
	slices.toCreate = keepCreate
}

// newEndpointSlice builds a mirrored slice owned by the Endpoints object.
func newEndpointSlice(endpoints *corev1.Endpoints, ports []discovery.EndpointPort, addrType discovery.AddressType, name string) *discovery.EndpointSlice {
	owner := metav1.NewControllerRef(endpoints, schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"})
	s := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*owner},
			Namespace:       endpoints.Namespace,
		},
		Ports:       ports,
		AddressType: addrType,
		Endpoints:   []discovery.Endpoint{},
	}
	for k, v := range endpoints.Labels {
		s.Labels[k] = v
	}
	s.Labels[discovery.LabelServiceName] = endpoints.Name
	s.Labels[discovery.LabelManagedBy] = ControllerName
	for k, v := range endpoints.Annotations {
		if k == corev1.EndpointsLastChangeTriggerTime || k == corev1.LastAppliedConfigAnnotation {
			continue
		}
		s.Annotations[k] = v
	}
	if name != "" {
		s.Name = name
		return s
	}
	s.GenerateName = endpoints.Name + "-"
	if len(apimachineryvalidation.NameIsDNSSubdomain(s.GenerateName, true)) != 0 {
		s.GenerateName = endpoints.Name
	}
	return s
}

// addressToEndpoint converts an Endpoints address; nil for an invalid IP.
func addressToEndpoint(addr corev1.EndpointAddress, ready bool) (*discovery.Endpoint, discovery.AddressType) {
	ip := netutils.ParseIPSloppy(addr.IP)
	if ip == nil {
		return nil, ""
	}
	at := discovery.AddressTypeIPv4
	if ip.To4() == nil {
		at = discovery.AddressTypeIPv6
	}
	ep := &discovery.Endpoint{
		Addresses:  []string{ip.String()},
		Conditions: discovery.EndpointConditions{Ready: &ready},
		TargetRef:  addr.TargetRef,
		NodeName:   addr.NodeName,
	}
	if addr.Hostname != "" {
		h := addr.Hostname
		ep.Hostname = &h
	}
	return ep, at
}

func epPortsToEpsPorts(ports []corev1.EndpointPort) []discovery.EndpointPort {
	out := []discovery.EndpointPort{}
	for _, p := range ports {
		p := p.DeepCopy()
		out = append(out, discovery.EndpointPort{Name: &p.Name, Port: &p.Port, Protocol: &p.Protocol, AppProtocol: p.AppProtocol})
	}
	return out
}

func cloneAndRemoveKeys(m map[string]string, keys ...string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}
