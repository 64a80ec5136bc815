package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
	"k8s.io/apiserver/pkg/util/dryrun"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// namespaceREST deletes namespaces the Kubernetes way: the first delete marks the namespace
// Terminating (the namespace controller then empties it and clears spec.finalizers through
// the finalize subresource); the namespace disappears once no finalizer is left.
type namespaceREST struct {
	*REST
}

func (r *namespaceREST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)
	if options == nil {
		options = metav1.NewDeleteOptions(0)
	}
	if options.Preconditions == nil {
		options.Preconditions = &metav1.Preconditions{}
	}
	if options.Preconditions.UID == nil {
		options.Preconditions.UID = &ns.UID
	} else if *options.Preconditions.UID != ns.UID {
		return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
			fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *options.Preconditions.UID, ns.UID))
	}
	if ns.DeletionTimestamp.IsZero() || len(ns.Spec.Finalizers) != 0 {
		key, err := r.KeyFunc(ctx, name)
		if err != nil {
			return nil, false, err
		}
		preconditions := storage.Preconditions{UID: options.Preconditions.UID, ResourceVersion: options.Preconditions.ResourceVersion}
		out := r.NewFunc()
		err = r.Storage.GuaranteedUpdate(ctx, key, out, false, &preconditions,
			storage.SimpleUpdate(func(existing runtime.Object) (runtime.Object, error) {
				ns := existing.(*corev1.Namespace)
				if err := deleteValidation(ctx, ns); err != nil {
					return nil, err
				}
				if ns.DeletionTimestamp.IsZero() {
					now := metav1.Now()
					ns.DeletionTimestamp = &now
				}
				ns.Status.Phase = corev1.NamespaceTerminating
				ns.Finalizers = finalizersFor(ns.Finalizers, options)
				return ns, nil
			}), dryrun.IsDryRun(options.DryRun), nil)
		if err != nil {
			return nil, false, storeerr.InterpretUpdateError(err, corev1.Resource("namespaces"), name)
		}
		if len(out.(*corev1.Namespace).Spec.Finalizers) != 0 {
			return out, false, nil
		}
	}
	return r.Store.Delete(ctx, name, deleteValidation, options)
}

// finalizersFor adds the orphan or foreground finalizer the delete options ask for.
func finalizersFor(existing []string, options *metav1.DeleteOptions) []string {
	want := ""
	switch {
	case options.PropagationPolicy != nil && *options.PropagationPolicy == metav1.DeletePropagationForeground:
		want = metav1.FinalizerDeleteDependents
	case options.PropagationPolicy != nil && *options.PropagationPolicy == metav1.DeletePropagationOrphan,
		options.OrphanDependents != nil && *options.OrphanDependents:
		want = metav1.FinalizerOrphanDependents
	}
	if want == "" {
		return existing
	}
	for _, f := range existing {
		if f == want {
			return existing
		}
	}
	return append(existing, want)
}

// finalizeREST serves namespaces/finalize: only spec.finalizers may change. When the last
// finalizer of a terminating namespace goes, the namespace is deleted.
type finalizeREST struct {
	ns *namespaceREST
}

func (r *finalizeREST) New() runtime.Object { return &corev1.Namespace{} }
func (r *finalizeREST) Destroy()            {}
func (r *finalizeREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"v1": fieldpath.NewSet(fieldpath.MakePathOrDie("status"), fieldpath.MakePathOrDie("metadata")),
	}
}

func (r *finalizeREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	key, err := r.ns.KeyFunc(ctx, name)
	if err != nil {
		return nil, false, err
	}
	out := &corev1.Namespace{}
	err = r.ns.Storage.GuaranteedUpdate(ctx, key, out, false, nil,
		storage.SimpleUpdate(func(existing runtime.Object) (runtime.Object, error) {
			old := existing.(*corev1.Namespace)
			obj, err := objInfo.UpdatedObject(ctx, old)
			if err != nil {
				return nil, err
			}
			next := old.DeepCopy()
			next.Spec.Finalizers = obj.(*corev1.Namespace).Spec.Finalizers
			if updateValidation != nil {
				if err := updateValidation(ctx, next, old); err != nil {
					return nil, err
				}
			}
			return next, nil
		}), dryrun.IsDryRun(options.DryRun), nil)
	if err != nil {
		return nil, false, storeerr.InterpretUpdateError(err, corev1.Resource("namespaces"), name)
	}
	if !out.DeletionTimestamp.IsZero() && len(out.Spec.Finalizers) == 0 && !dryrun.IsDryRun(options.DryRun) {
		propagation := metav1.DeletePropagationBackground
		if _, _, err := r.ns.Store.Delete(ctx, name, rest.ValidateAllObjectFunc,
			&metav1.DeleteOptions{PropagationPolicy: &propagation}); err != nil && !apierrors.IsNotFound(err) {
			return nil, false, err
		}
	}
	return out, false, nil
}
