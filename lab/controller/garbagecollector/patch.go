package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// attemptToOrphanItem strips the owner's references from all its dependents
// and then removes the orphan finalizer from the owner.
func (c *Controller) attemptToOrphanItem(ctx context.Context, owner objectRef) error {
	obj, ok := c.cached(owner)
	if !ok {
		live, exists, err := c.getLive(ctx, owner)
		if err != nil || !exists {
			return err
		}
		obj = live
	}
	if !isOrphaning(obj) {
		return nil
	}
	for _, dep := range c.dependents(owner.uid) {
		if err := c.patchOwnerRefs(ctx, dep.ref, func(r metav1.OwnerReference) (metav1.OwnerReference, bool) {
			return r, r.UID != owner.uid
		}); err != nil {
			return fmt.Errorf("orphan dependents of %s: %w", owner, err)
		}
	}
	c.log.Info("orphaned dependents", "owner", owner.String())
	return c.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents)
}

// metaPatch is a JSON merge patch of the metadata fields the collector
// writes. resourceVersion makes it fail with a conflict on concurrent
// changes, so every change is read-modify-write.
type metaPatch struct {
	Metadata struct {
		ResourceVersion string    `json:"resourceVersion"`
		UID             types.UID `json:"uid"`
		Finalizers      *[]string `json:"finalizers,omitempty"`
	} `json:"metadata"`
}

// patchOwnerRefs rewrites the owner references of ref through edit (which
// returns the reference to keep and whether to keep it).
func (c *Controller) patchOwnerRefs(ctx context.Context, ref objectRef, edit func(metav1.OwnerReference) (metav1.OwnerReference, bool)) error {
	return c.readModifyWrite(ctx, ref, func(obj metav1.Object) ([]byte, bool, error) {
		var refs []metav1.OwnerReference
		changed := false
		for _, r := range obj.GetOwnerReferences() {
			nr, keep := edit(r)
			if !keep {
				changed = true
				continue
			}
			if !ownerRefEqual(nr, r) {
				changed = true
			}
			refs = append(refs, nr)
		}
		if !changed {
			return nil, false, nil
		}
		// An empty list must be sent as [] (a merge patch null would also
		// do, but omitempty would drop the field).
		body := map[string]any{"metadata": map[string]any{
			"resourceVersion": obj.GetResourceVersion(),
			"uid":             obj.GetUID(),
			"ownerReferences": nonNil(refs),
		}}
		data, err := json.Marshal(body)
		return data, true, err
	})
}

// removeFinalizer removes finalizer from ref.
func (c *Controller) removeFinalizer(ctx context.Context, ref objectRef, finalizer string) error {
	return c.readModifyWrite(ctx, ref, func(obj metav1.Object) ([]byte, bool, error) {
		var keep []string
		found := false
		for _, f := range obj.GetFinalizers() {
			if f == finalizer {
				found = true
				continue
			}
			keep = append(keep, f)
		}
		if !found {
			return nil, false, nil
		}
		var p metaPatch
		p.Metadata.ResourceVersion = obj.GetResourceVersion()
		p.Metadata.UID = obj.GetUID()
		keep = nonNil(keep)
		p.Metadata.Finalizers = &keep
		data, err := json.Marshal(p)
		c.log.Info("removing finalizer", "object", ref.String(), "finalizer", finalizer)
		return data, true, err
	})
}

// readModifyWrite reads ref live, builds a merge patch and applies it,
// retrying on conflicts. A vanished or replaced object is not an error.
func (c *Controller) readModifyWrite(ctx context.Context, ref objectRef, build func(metav1.Object) ([]byte, bool, error)) error {
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		obj, exists, err := c.getLive(ctx, ref)
		if err != nil || !exists {
			return err
		}
		data, needed, err := build(obj)
		if err != nil || !needed {
			return err
		}
		_, err = c.metadata.Resource(ref.gvr).Namespace(ref.namespace).Patch(ctx, ref.name, types.MergePatchType, data, metav1.PatchOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("patch %s: %w", ref, err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
