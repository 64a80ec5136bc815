package endpoints

import (
	"context"
	"fmt"
	"math"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	endpointslicerec "k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
	utilnet "k8s.io/utils/net"
)

const (
	// maxCapacity is the most addresses one Endpoints object carries;
	// beyond it the controller truncates and sets the over-capacity annotation.
	maxCapacity = 1000
	// truncated is the value of the endpoints.kubernetes.io/over-capacity annotation.
	truncated = "truncated"
)

// syncService makes the Endpoints named like the Service match its Pods.
func (c *Controller) syncService(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	service, err := c.serviceLister.Services(namespace).Get(name)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		// The Service is gone: delete its Endpoints.
		err = c.client.CoreV1().Endpoints(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		c.triggerTimeTracker.DeleteService(namespace, name)
		c.stale.forget(namespace, name)
		return nil
	}
	if service.Spec.Type == v1.ServiceTypeExternalName {
		// ExternalName Services get no endpoints (https://issues.k8s.io/105986).
		return nil
	}
	if service.Spec.Selector == nil {
		// Services without a selector get Endpoints written by users.
		return nil
	}

	pods, err := c.podLister.Pods(namespace).List(labels.Set(service.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	// Always update the tracker, even when the sync turns out to be a no-op.
	triggerTime := c.triggerTimeTracker.ComputeEndpointLastChangeTriggerTime(namespace, service, pods)

	subsets := desiredSubsets(service, pods)

	create := false
	current, err := c.endpointsLister.Endpoints(namespace).Get(name)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		create = true
		current = &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: service.Labels}}
	} else if c.stale.isStale(current) {
		return fmt.Errorf("endpoints informer cache is out of date, resource version %s already processed for endpoints %s", current.ResourceVersion, key)
	}

	compareLabels := current.Labels
	if _, ok := current.Labels[v1.IsHeadlessService]; ok {
		compareLabels = cloneWithout(current.Labels, v1.IsHeadlessService)
	}
	if !create &&
		semanticIgnoreResourceVersion.DeepEqual(current.Subsets, subsets) &&
		apiequality.Semantic.DeepEqual(compareLabels, service.Labels) &&
		capacityAnnotationSetCorrectly(current.Annotations, current.Subsets) {
		return nil
	}

	desired := current.DeepCopy()
	desired.Subsets = subsets
	desired.Labels = map[string]string{}
	for k, v := range service.Labels {
		desired.Labels[k] = v
	}
	if !isServiceIPSet(service) {
		desired.Labels[v1.IsHeadlessService] = ""
	} else {
		delete(desired.Labels, v1.IsHeadlessService)
	}
	if desired.Annotations == nil {
		desired.Annotations = map[string]string{}
	}
	if !triggerTime.IsZero() {
		desired.Annotations[v1.EndpointsLastChangeTriggerTime] = triggerTime.UTC().Format(time.RFC3339Nano)
	} else {
		delete(desired.Annotations, v1.EndpointsLastChangeTriggerTime)
	}
	if truncateEndpoints(desired) {
		desired.Annotations[v1.EndpointsOverCapacity] = truncated
	} else {
		delete(desired.Annotations, v1.EndpointsOverCapacity)
	}

	if create {
		_, err = c.client.CoreV1().Endpoints(namespace).Create(ctx, desired, metav1.CreateOptions{})
		if err != nil {
			// A terminating namespace refuses creates; drop the item.
			if apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
				return nil
			}
			c.recorder.Eventf(desired, v1.EventTypeWarning, "FailedToCreateEndpoint", "Failed to create endpoint for service %v/%v: %v", namespace, name, err)
			return fmt.Errorf("create endpoints %s: %w", key, err)
		}
		return nil
	}
	updated, err := c.client.CoreV1().Endpoints(namespace).Update(ctx, desired, metav1.UpdateOptions{})
	if err != nil {
		c.recorder.Eventf(desired, v1.EventTypeWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %v/%v: %v", namespace, name, err)
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	if current.ResourceVersion != "" && updated.ResourceVersion != current.ResourceVersion {
		c.stale.markStale(current)
	}
	return nil
}

// desiredSubsets computes the repacked subsets for service from pods.
func desiredSubsets(service *v1.Service, pods []*v1.Pod) []v1.EndpointSubset {
	subsets := []v1.EndpointSubset{}
	for _, pod := range pods {
		if !endpointsliceutil.ShouldPodBeInEndpoints(pod, service.Spec.PublishNotReadyAddresses) {
			continue
		}
		epa, ok := podToEndpointAddress(service, pod)
		if !ok {
			continue
		}
		if endpointsliceutil.ShouldSetHostname(pod, service) {
			epa.Hostname = pod.Spec.Hostname
		}
		ready := service.Spec.PublishNotReadyAddresses || endpointsliceutil.IsPodReady(pod)
		// Headless Services may have no ports.
		if len(service.Spec.Ports) == 0 {
			if service.Spec.ClusterIP == v1.ClusterIPNone {
				subsets = append(subsets, newSubset(epa, nil, ready))
			}
			continue
		}
		for i := range service.Spec.Ports {
			sp := &service.Spec.Ports[i]
			portNum, err := endpointslicerec.FindPort(pod, sp)
			if err != nil {
				// The Pod does not expose this named port: skip the port only.
				continue
			}
			epp := &v1.EndpointPort{Name: sp.Name, Port: int32(portNum), Protocol: sp.Protocol, AppProtocol: sp.AppProtocol}
			subsets = append(subsets, newSubset(epa, epp, ready))
		}
	}
	return RepackSubsets(subsets)
}

func newSubset(epa v1.EndpointAddress, epp *v1.EndpointPort, ready bool) v1.EndpointSubset {
	ports := []v1.EndpointPort{}
	if epp != nil {
		ports = append(ports, *epp)
	}
	if ready {
		return v1.EndpointSubset{Addresses: []v1.EndpointAddress{epa}, Ports: ports}
	}
	return v1.EndpointSubset{NotReadyAddresses: []v1.EndpointAddress{epa}, Ports: ports}
}

// podToEndpointAddress picks the Pod IP of the Service's primary IP family.
func podToEndpointAddress(svc *v1.Service, pod *v1.Pod) (v1.EndpointAddress, bool) {
	ipv6 := false
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		ipv6 = svc.Spec.IPFamilies[0] == v1.IPv6Protocol
	case len(svc.Spec.ClusterIP) > 0 && svc.Spec.ClusterIP != v1.ClusterIPNone:
		ipv6 = utilnet.IsIPv6String(svc.Spec.ClusterIP)
	default:
		ipv6 = utilnet.IsIPv6String(pod.Status.PodIP)
	}
	ips := pod.Status.PodIPs
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []v1.PodIP{{IP: pod.Status.PodIP}}
	}
	for _, ip := range ips {
		if ipv6 == utilnet.IsIPv6String(ip.IP) {
			nodeName := pod.Spec.NodeName
			return v1.EndpointAddress{
				IP:       ip.IP,
				NodeName: &nodeName,
				TargetRef: &v1.ObjectReference{
					Kind:      "Pod",
					Namespace: pod.Namespace,
					Name:      pod.Name,
					UID:       pod.UID,
				},
			}, true
		}
	}
	return v1.EndpointAddress{}, false
}

func isServiceIPSet(svc *v1.Service) bool {
	return svc.Spec.ClusterIP != v1.ClusterIPNone && svc.Spec.ClusterIP != ""
}

func cloneWithout(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// semanticIgnoreResourceVersion compares subsets ignoring the Pod
// resourceVersion in target references, so Pod updates that don't matter
// don't cause Endpoints writes.
var semanticIgnoreResourceVersion = conversion.EqualitiesOrDie(
	func(a, b v1.ObjectReference) bool {
		a.ResourceVersion = ""
		b.ResourceVersion = ""
		return a == b
	},
)

// capacityAnnotationSetCorrectly reports whether the over-capacity annotation
// agrees with the number of addresses.
func capacityAnnotationSetCorrectly(annotations map[string]string, subsets []v1.EndpointSubset) bool {
	n := 0
	for _, s := range subsets {
		n += len(s.Addresses) + len(s.NotReadyAddresses)
	}
	if n > maxCapacity {
		return false
	}
	_, ok := annotations[v1.EndpointsOverCapacity]
	return !ok
}

// truncateEndpoints cuts the Endpoints down to maxCapacity addresses,
// proportionally per subset and ready addresses first, as upstream does.
func truncateEndpoints(ep *v1.Endpoints) bool {
	totalReady, totalNotReady := 0, 0
	for _, s := range ep.Subsets {
		totalReady += len(s.Addresses)
		totalNotReady += len(s.NotReadyAddresses)
	}
	if totalReady+totalNotReady <= maxCapacity {
		return false
	}
	truncateReady := false
	limit := maxCapacity - totalReady
	numTotal := totalNotReady
	if totalReady > maxCapacity {
		truncateReady = true
		limit = maxCapacity
		numTotal = totalReady
	}
	canBeAdded := limit
	for i := range ep.Subsets {
		s := ep.Subsets[i]
		numInSubset := len(s.Addresses)
		if !truncateReady {
			numInSubset = len(s.NotReadyAddresses)
		}
		toBeAdded := int(math.Ceil((float64(numInSubset) / float64(numTotal)) * float64(limit)))
		toBeAdded = min(toBeAdded, canBeAdded)
		if truncateReady {
			s.Addresses = firstN(s.Addresses, toBeAdded)
			s.NotReadyAddresses = []v1.EndpointAddress{}
			canBeAdded -= len(s.Addresses)
		} else {
			s.NotReadyAddresses = firstN(s.NotReadyAddresses, toBeAdded)
			canBeAdded -= len(s.NotReadyAddresses)
		}
		ep.Subsets[i] = s
	}
	return true
}

func firstN(a []v1.EndpointAddress, n int) []v1.EndpointAddress {
	if len(a) <= n {
		return a
	}
	return a[:n]
}
