package garbagecollector

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

// getLive reads ref from the API server; ok is false when the object is gone
// or was replaced by one with another uid.
func (c *Controller) getLive(ctx context.Context, ref objectRef) (metav1.Object, bool, error) {
	obj, err := c.metadata.Resource(ref.gvr).Namespace(ref.namespace).Get(ctx, ref.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", ref, err)
	}
	if obj.UID != ref.uid {
		return nil, false, nil
	}
	return obj, true, nil
}

// attemptToDeleteItem deletes item if none of its owners remain, strips
// owner references that are gone while a live owner remains, and drives
// foreground deletion. It mirrors upstream's attemptToDeleteItem.
func (c *Controller) attemptToDeleteItem(ctx context.Context, item objectRef) error {
	obj, ok := c.cached(item)
	if !ok {
		// Maybe the cache lags; ask the server before giving up.
		live, exists, err := c.getLive(ctx, item)
		if err != nil {
			return err
		}
		if !exists {
			for _, dep := range c.dependents(item.uid) {
				c.attemptToDelete.Add(dep.ref)
			}
			return nil
		}
		obj = live
	}
	// "Being deleted" is a one-way trip; wait for the final deletion.
	if isBeingDeleted(obj) && !isDeletingDependents(obj) {
		return nil
	}
	if isDeletingDependents(obj) {
		return c.processDeletingDependents(ctx, item)
	}
	owners := obj.GetOwnerReferences()
	if len(owners) == 0 {
		return nil
	}

	var solid, dangling, waiting []metav1.OwnerReference
	for _, ref := range owners {
		state, err := c.ownerState(ctx, obj, ref)
		if err != nil {
			return err
		}
		switch state {
		case ownerGone:
			dangling = append(dangling, ref)
		case ownerWaiting:
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}

	switch {
	case len(solid) != 0:
		if len(dangling) == 0 && len(waiting) == 0 {
			return nil
		}
		// Keep the object, drop references to owners that are gone or
		// are deleting their dependents in the foreground.
		drop := map[string]bool{}
		for _, r := range append(dangling, waiting...) {
			drop[string(r.UID)] = true
		}
		c.log.Info("removing dangling owner references", "object", item.String(), "owners", len(drop))
		return c.patchOwnerRefs(ctx, item, func(r metav1.OwnerReference) (metav1.OwnerReference, bool) {
			return r, !drop[string(r.UID)]
		})
	case len(waiting) != 0 && len(c.dependents(item.uid)) != 0:
		for _, dep := range c.dependents(item.uid) {
			if isDeletingDependents(dep.obj) {
				// A dependent is itself waiting on us: break the cycle by
				// no longer blocking our owners (upstream does the same).
				if err := c.patchOwnerRefs(ctx, item, func(r metav1.OwnerReference) (metav1.OwnerReference, bool) {
					r.BlockOwnerDeletion = ptr.To(false)
					return r, true
				}); err != nil {
					return err
				}
				break
			}
		}
		return c.deleteObject(ctx, item, metav1.DeletePropagationForeground)
	default:
		// No owner is left alive: collect the object, keeping any
		// propagation it asked for through its own finalizers.
		policy := metav1.DeletePropagationBackground
		switch {
		case isOrphanFinalizerSet(obj):
			policy = metav1.DeletePropagationOrphan
		case hasFinalizer(obj, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return c.deleteObject(ctx, item, policy)
	}
}

type ownerStateKind int

const (
	ownerSolid ownerStateKind = iota
	ownerGone
	ownerWaiting
)

// ownerState classifies one owner reference of dependent. An owner whose
// live object has another uid counts as gone (a "virtual" owner), as does a
// namespaced owner of a cluster-scoped dependent.
func (c *Controller) ownerState(ctx context.Context, dependent metav1.Object, ref metav1.OwnerReference) (ownerStateKind, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ownerSolid, fmt.Errorf("owner reference %s/%s of %s: %w", ref.Kind, ref.Name, dependent.GetName(), err)
	}
	info, ok := c.byKind[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
	if !ok {
		return ownerSolid, fmt.Errorf("owner reference %s %s of %s/%s: no served resource has this kind",
			ref.APIVersion, ref.Kind, dependent.GetNamespace(), dependent.GetName())
	}
	ns := ""
	if info.namespaced {
		if dependent.GetNamespace() == "" {
			return ownerGone, nil // cluster-scoped dependents cannot have namespaced owners
		}
		ns = dependent.GetNamespace()
	}
	ownerRef := objectRef{gvr: info.gvr, namespace: ns, name: ref.Name, uid: ref.UID}
	owner, ok := c.cached(ownerRef)
	if !ok {
		// Absent from the cache: confirm with the server, the cache may lag.
		live, exists, err := c.getLive(ctx, ownerRef)
		if err != nil {
			return ownerSolid, err
		}
		if !exists {
			return ownerGone, nil
		}
		owner = live
	}
	if isDeletingDependents(owner) {
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// processDeletingDependents removes the foregroundDeletion finalizer once
// no dependent blocks the owner, and otherwise pushes the blocking
// dependents towards deletion.
func (c *Controller) processDeletingDependents(ctx context.Context, owner objectRef) error {
	var blocking []cachedObject
	for _, dep := range c.dependents(owner.uid) {
		for _, r := range dep.obj.GetOwnerReferences() {
			if r.UID == owner.uid && ptr.Deref(r.BlockOwnerDeletion, false) {
				blocking = append(blocking, dep)
				break
			}
		}
	}
	if len(blocking) == 0 {
		return c.removeFinalizer(ctx, owner, metav1.FinalizerDeleteDependents)
	}
	for _, dep := range blocking {
		if !isDeletingDependents(dep.obj) {
			c.attemptToDelete.Add(dep.ref)
		}
	}
	return nil
}

// deleteObject deletes ref with a uid precondition.
func (c *Controller) deleteObject(ctx context.Context, ref objectRef, policy metav1.DeletionPropagation) error {
	c.log.Info("deleting object", "object", ref.String(), "propagationPolicy", string(policy))
	uid := ref.uid
	err := c.metadata.Resource(ref.gvr).Namespace(ref.namespace).Delete(ctx, ref.name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Conflict: the uid precondition failed, the object was replaced.
		return nil
	}
	return fmt.Errorf("delete %s: %w", ref, err)
}

func hasFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

func isOrphanFinalizerSet(m metav1.Object) bool {
	return hasFinalizer(m, metav1.FinalizerOrphanDependents)
}
