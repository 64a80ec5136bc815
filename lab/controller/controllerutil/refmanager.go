package controllerutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// PatchFunc applies a strategic merge patch to the named object of one resource.
type PatchFunc func(ctx context.Context, namespace, name string, data []byte) error

// RefManager adopts orphans that match a controller's selector and releases owned objects that
// stopped matching, through ownerReference patches (upstream BaseControllerRefManager).
type RefManager struct {
	Controller metav1.Object
	Kind       schema.GroupVersionKind
	Selector   labels.Selector
	// CanAdopt is called at most once, before the first adoption; upstream re-reads the
	// controller uncached to make sure it is not being deleted.
	CanAdopt func(ctx context.Context) error

	once     sync.Once
	adoptErr error
}

func (m *RefManager) canAdopt(ctx context.Context) error {
	m.once.Do(func() {
		if m.CanAdopt != nil {
			m.adoptErr = m.CanAdopt(ctx)
		}
	})
	return m.adoptErr
}

// RecheckDeletionTimestamp returns a CanAdopt function that fails when get returns an object
// that is being deleted.
func RecheckDeletionTimestamp(get func(ctx context.Context) (metav1.Object, error)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		obj, err := get(ctx)
		if err != nil {
			return fmt.Errorf("can't recheck DeletionTimestamp: %w", err)
		}
		if obj.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%v/%v has just been deleted at %v", obj.GetNamespace(), obj.GetName(), obj.GetDeletionTimestamp())
		}
		return nil
	}
}

// Claim decides whether obj belongs to the controller, adopting or releasing it with patch.
func (m *RefManager) Claim(ctx context.Context, obj metav1.Object, objLabels map[string]string, patch PatchFunc) (bool, error) {
	match := m.Selector.Matches(labels.Set(objLabels))
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		if ref.UID != m.Controller.GetUID() {
			return false, nil
		}
		if match {
			return true, nil
		}
		if m.Controller.GetDeletionTimestamp() != nil {
			return false, nil
		}
		data, err := DeleteOwnerRefPatch(obj.GetUID(), m.Controller.GetUID())
		if err != nil {
			return false, err
		}
		if err := patch(ctx, obj.GetNamespace(), obj.GetName(), data); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
				return false, nil
			}
			return false, err
		}
		return false, nil
	}
	if m.Controller.GetDeletionTimestamp() != nil || !match || obj.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if ns := m.Controller.GetNamespace(); ns != "" && ns != obj.GetNamespace() {
		return false, nil
	}
	if err := m.canAdopt(ctx); err != nil {
		return false, fmt.Errorf("can't adopt %s %s/%s (%s): %w", m.kindOf(obj), obj.GetNamespace(), obj.GetName(), obj.GetUID(), err)
	}
	data, err := OwnerRefControllerPatch(m.Controller, m.Kind, obj.GetUID())
	if err != nil {
		return false, err
	}
	if err := patch(ctx, obj.GetNamespace(), obj.GetName(), data); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (m *RefManager) kindOf(obj metav1.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *appsv1.ReplicaSet:
		return "ReplicaSet"
	case *appsv1.ControllerRevision:
		return "ControllerRevision"
	}
	return "object"
}

// ClaimPods returns the pods that belong to the controller after adoption and release.
func (m *RefManager) ClaimPods(ctx context.Context, pods []*corev1.Pod, patch PatchFunc) ([]*corev1.Pod, error) {
	var claimed []*corev1.Pod
	var errs []error
	for _, p := range pods {
		ok, err := m.Claim(ctx, p, p.Labels, patch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, p)
		}
	}
	return claimed, utilerrors.NewAggregate(errs)
}

// ClaimReplicaSets returns the ReplicaSets that belong to the controller.
func (m *RefManager) ClaimReplicaSets(ctx context.Context, sets []*appsv1.ReplicaSet, patch PatchFunc) ([]*appsv1.ReplicaSet, error) {
	var claimed []*appsv1.ReplicaSet
	var errs []error
	for _, rs := range sets {
		ok, err := m.Claim(ctx, rs, rs.Labels, patch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, rs)
		}
	}
	return claimed, utilerrors.NewAggregate(errs)
}

// ClaimControllerRevisions returns the ControllerRevisions that belong to the controller.
func (m *RefManager) ClaimControllerRevisions(ctx context.Context, revs []*appsv1.ControllerRevision, patch PatchFunc) ([]*appsv1.ControllerRevision, error) {
	var claimed []*appsv1.ControllerRevision
	var errs []error
	for _, cr := range revs {
		ok, err := m.Claim(ctx, cr, cr.Labels, patch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, cr)
		}
	}
	return claimed, utilerrors.NewAggregate(errs)
}

type ownerRefPatch struct {
	Metadata struct {
		OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
		UID             types.UID               `json:"uid"`
	} `json:"metadata"`
}

// OwnerRefControllerPatch is the strategic merge patch that makes controller the controlling
// owner of the object with uid (controller=true, blockOwnerDeletion=true).
func OwnerRefControllerPatch(controller metav1.Object, kind schema.GroupVersionKind, uid types.UID) ([]byte, error) {
	if controller == nil {
		return nil, errors.New("owner ref patch: nil controller")
	}
	var p ownerRefPatch
	p.Metadata.UID = uid
	p.Metadata.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(controller, kind)}
	return json.Marshal(&p)
}

// DeleteOwnerRefPatch is the strategic merge patch that removes the owner references with
// ownerUIDs from the object with uid.
func DeleteOwnerRefPatch(uid types.UID, ownerUIDs ...types.UID) ([]byte, error) {
	refs := make([]map[string]string, 0, len(ownerUIDs))
	for _, o := range ownerUIDs {
		refs = append(refs, map[string]string{"$patch": "delete", "uid": string(o)})
	}
	p := map[string]any{"metadata": map[string]any{"ownerReferences": refs, "uid": uid}}
	return json.Marshal(p)
}
