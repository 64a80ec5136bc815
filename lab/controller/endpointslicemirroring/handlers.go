package endpointslicemirroring

import (
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// shouldMirror is false for Endpoints labelled
// endpointslice.kubernetes.io/skip-mirror=true and for leader-election
// records. Whether the Service is selector-less is checked during the sync.
func shouldMirror(ep *v1.Endpoints) bool {
	if ep == nil || ep.Labels[discovery.LabelSkipMirror] == "true" {
		return false
	}
	_, leader := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]
	return !leader
}

func (c *Controller) queueKey(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot compute key", "err", err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) onServiceAdd(obj any) {
	if svc, ok := obj.(*v1.Service); ok && svc.Spec.Selector == nil {
		c.queueKey(obj)
	}
}

func (c *Controller) onServiceUpdate(oldObj, newObj any) {
	prev, ok1 := oldObj.(*v1.Service)
	cur, ok2 := newObj.(*v1.Service)
	if ok1 && ok2 && (prev.Spec.Selector == nil) != (cur.Spec.Selector == nil) {
		c.queueKey(newObj)
	}
}

func (c *Controller) onServiceDelete(obj any) {
	svc, ok := obj.(*v1.Service)
	if tomb, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
		svc, ok = tomb.Obj.(*v1.Service)
	}
	if ok && svc.Spec.Selector == nil {
		c.queueKey(obj)
	}
}

func (c *Controller) onEndpointsAdd(obj any) {
	if ep, ok := obj.(*v1.Endpoints); ok && shouldMirror(ep) {
		c.queueKey(obj)
	}
}

func (c *Controller) onEndpointsUpdate(oldObj, newObj any) {
	prev, ok1 := oldObj.(*v1.Endpoints)
	cur, ok2 := newObj.(*v1.Endpoints)
	if ok1 && ok2 && (shouldMirror(prev) || shouldMirror(cur)) {
		c.queueKey(newObj)
	}
}

func (c *Controller) onEndpointsDelete(obj any) {
	ep, ok := obj.(*v1.Endpoints)
	if tomb, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
		ep, ok = tomb.Obj.(*v1.Endpoints)
	}
	if ok && shouldMirror(ep) {
		c.queueKey(obj)
	}
}

func managedByUs(s *discovery.EndpointSlice) bool {
	return s.Labels[discovery.LabelManagedBy] == ControllerName
}

func (c *Controller) onSliceAdd(obj any) {
	if s, ok := obj.(*discovery.EndpointSlice); ok && managedByUs(s) && c.tracker.ShouldSync(s) {
		c.queueForSlice(s)
	}
}

func (c *Controller) onSliceUpdate(oldObj, newObj any) {
	prev, ok1 := oldObj.(*discovery.EndpointSlice)
	cur, ok2 := newObj.(*discovery.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	if prev.Labels[discovery.LabelServiceName] != cur.Labels[discovery.LabelServiceName] {
		c.queueForSlice(cur)
		c.queueForSlice(prev)
		return
	}
	if managedByUs(prev) != managedByUs(cur) || (managedByUs(cur) && c.tracker.ShouldSync(cur)) {
		c.queueForSlice(cur)
	}
}

func (c *Controller) onSliceDelete(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := obj.(*discovery.EndpointSlice)
	if ok && managedByUs(s) && c.tracker.Has(s) && !c.tracker.HandleDeletion(s) {
		c.queueForSlice(s)
	}
}

func (c *Controller) queueForSlice(s *discovery.EndpointSlice) {
	name := s.Labels[discovery.LabelServiceName]
	if name == "" {
		return
	}
	c.queue.Add(s.Namespace + "/" + name)
}
