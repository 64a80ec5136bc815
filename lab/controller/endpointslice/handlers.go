package endpointslice

import (
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
	endpointslicerec "k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
)

func (c *Controller) enqueueService(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot compute key", "err", err)
		return
	}
	c.queue.Add(key)
}

// onPodChange queues the Services a Pod belonged to before or after a change
// that can affect endpoints.
func (c *Controller) onPodChange(old, cur any) {
	key := endpointsliceutil.GetPodUpdateProjectionKey(old, cur)
	services, err := endpointsliceutil.GetServicesToUpdate(c.serviceLister, key)
	if err != nil {
		c.log.Error("cannot find services for pod", "err", err)
		return
	}
	for svc := range services {
		c.queue.AddAfter(svc, c.batchPeriod)
	}
}

// onSliceAdd resyncs the Service when a slice appears that this controller
// did not write itself (as far as its tracker knows).
func (c *Controller) onSliceAdd(obj any) {
	slice, ok := obj.(*discovery.EndpointSlice)
	if !ok {
		return
	}
	if c.reconciler.ManagedByController(slice) && c.tracker.ShouldSync(slice) {
		c.queueServiceForSlice(slice)
	}
}

func (c *Controller) onSliceUpdate(oldObj, newObj any) {
	prev, ok1 := oldObj.(*discovery.EndpointSlice)
	cur, ok2 := newObj.(*discovery.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	// Users may relabel a slice to another Service: resync both.
	if prev.Labels[discovery.LabelServiceName] != cur.Labels[discovery.LabelServiceName] {
		c.queueServiceForSlice(cur)
		c.queueServiceForSlice(prev)
		return
	}
	if c.reconciler.ManagedByChanged(prev, cur) || (c.reconciler.ManagedByController(cur) && c.tracker.ShouldSync(cur)) {
		c.queueServiceForSlice(cur)
	}
}

func (c *Controller) onSliceDelete(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	slice, ok := obj.(*discovery.EndpointSlice)
	if !ok {
		return
	}
	if c.reconciler.ManagedByController(slice) && c.tracker.Has(slice) {
		// An unexpected deletion (not ours) needs a resync to recreate it.
		if !c.tracker.HandleDeletion(slice) {
			c.queueServiceForSlice(slice)
		}
	}
}

func (c *Controller) queueServiceForSlice(slice *discovery.EndpointSlice) {
	key, err := endpointslicerec.ServiceControllerKey(slice)
	if err != nil {
		c.log.Debug("cannot find service of endpoint slice", "slice", slice.Namespace+"/"+slice.Name, "err", err)
		return
	}
	c.queue.AddAfter(key, max(endpointSliceChangeMinSyncDelay, c.batchPeriod))
}
