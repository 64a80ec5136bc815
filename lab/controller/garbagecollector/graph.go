package garbagecollector

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

const (
	uidIndex   = "uid"
	ownerIndex = "ownerUID"
)

// objectRef identifies one object in one resource.
type objectRef struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
	uid       types.UID
}

func (r objectRef) String() string {
	return fmt.Sprintf("%s %s/%s (uid %s)", r.gvr, r.namespace, r.name, r.uid)
}

func (r objectRef) key() string {
	if r.namespace == "" {
		return r.name
	}
	return r.namespace + "/" + r.name
}

func refOf(gvr schema.GroupVersionResource, obj metav1.Object) objectRef {
	return objectRef{gvr: gvr, namespace: obj.GetNamespace(), name: obj.GetName(), uid: obj.GetUID()}
}

func indexByUID(obj any) ([]string, error) {
	m, err := metaOf(obj)
	if err != nil {
		return nil, err
	}
	return []string{string(m.GetUID())}, nil
}

func indexByOwnerUID(obj any) ([]string, error) {
	m, err := metaOf(obj)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range m.GetOwnerReferences() {
		out = append(out, string(o.UID))
	}
	return out, nil
}

func metaOf(obj any) (metav1.Object, error) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("unexpected object type %T", obj)
	}
	return m, nil
}

func isBeingDeleted(m metav1.Object) bool { return m.GetDeletionTimestamp() != nil }

// isDeletingDependents reports foreground deletion in progress.
func isDeletingDependents(m metav1.Object) bool {
	return isBeingDeleted(m) && slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents)
}

func isOrphaning(m metav1.Object) bool {
	return isBeingDeleted(m) && slices.Contains(m.GetFinalizers(), metav1.FinalizerOrphanDependents)
}

// handlerFor turns informer events into work, like upstream's GraphBuilder.
func (c *Controller) handlerFor(info resourceInfo) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			m, err := metaOf(obj)
			if err != nil {
				return
			}
			if len(m.GetOwnerReferences()) > 0 {
				c.attemptToDelete.Add(refOf(info.gvr, m))
			}
			c.processTransitions(info.gvr, m)
		},
		UpdateFunc: func(oldObj, newObj any) {
			om, err1 := metaOf(oldObj)
			nm, err2 := metaOf(newObj)
			if err1 != nil || err2 != nil {
				return
			}
			if !slices.EqualFunc(om.GetOwnerReferences(), nm.GetOwnerReferences(), ownerRefEqual) {
				if len(nm.GetOwnerReferences()) > 0 {
					c.attemptToDelete.Add(refOf(info.gvr, nm))
				}
				// An owner waiting for its dependents may be unblocked now.
				c.enqueueDeletingOwners(om.GetOwnerReferences())
				c.enqueueDeletingOwners(nm.GetOwnerReferences())
			}
			c.processTransitions(info.gvr, nm)
		},
		DeleteFunc: func(obj any) {
			m, err := metaOf(obj)
			if err != nil {
				return
			}
			// Dependents may have lost their last owner.
			for _, dep := range c.dependents(m.GetUID()) {
				c.attemptToDelete.Add(dep.ref)
			}
			// An owner in foreground deletion may be done waiting.
			c.enqueueDeletingOwners(m.GetOwnerReferences())
		},
	}
}

// processTransitions queues owners entering orphan or foreground deletion.
func (c *Controller) processTransitions(gvr schema.GroupVersionResource, m metav1.Object) {
	if isOrphaning(m) {
		c.attemptToOrphan.Add(refOf(gvr, m))
	}
	if isDeletingDependents(m) {
		c.attemptToDelete.Add(refOf(gvr, m))
		for _, dep := range c.dependents(m.GetUID()) {
			c.attemptToDelete.Add(dep.ref)
		}
	}
}

func (c *Controller) enqueueDeletingOwners(refs []metav1.OwnerReference) {
	for _, r := range refs {
		if owner, ok := c.cachedByUID(r.UID); ok && isDeletingDependents(owner.obj) {
			c.attemptToDelete.Add(owner.ref)
		}
	}
}

func ownerRefEqual(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name &&
		boolPtrEqual(a.Controller, b.Controller) && boolPtrEqual(a.BlockOwnerDeletion, b.BlockOwnerDeletion)
}

func boolPtrEqual(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// cachedObject is an object found in an informer cache.
type cachedObject struct {
	ref objectRef
	obj metav1.Object
}

// dependents returns cached objects with an ownerReference to uid.
func (c *Controller) dependents(uid types.UID) []cachedObject {
	var out []cachedObject
	for gvr, inf := range c.informers {
		items, err := inf.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, it := range items {
			if m, err := metaOf(it); err == nil {
				out = append(out, cachedObject{refOf(gvr, m), m})
			}
		}
	}
	return out
}

// cachedByUID finds an object by uid in any cache.
func (c *Controller) cachedByUID(uid types.UID) (cachedObject, bool) {
	for gvr, inf := range c.informers {
		items, err := inf.GetIndexer().ByIndex(uidIndex, string(uid))
		if err != nil || len(items) == 0 {
			continue
		}
		if m, err := metaOf(items[0]); err == nil {
			return cachedObject{refOf(gvr, m), m}, true
		}
	}
	return cachedObject{}, false
}

// cached returns the cached object named by ref if its uid matches.
func (c *Controller) cached(ref objectRef) (metav1.Object, bool) {
	inf, ok := c.informers[ref.gvr]
	if !ok {
		return nil, false
	}
	obj, exists, err := inf.GetIndexer().GetByKey(ref.key())
	if err != nil || !exists {
		return nil, false
	}
	m, err := metaOf(obj)
	if err != nil || m.GetUID() != ref.uid {
		return nil, false
	}
	return m, true
}
