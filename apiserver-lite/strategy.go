package apiserver

import (
	"context"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// strategy is the create/update/delete behaviour shared by every resource: status is owned
// by the status subresource, metadata.generation counts spec changes, and validation comes
// from the resource's validate funcs (upstream messages and field paths).
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator

	gv         schema.GroupVersion
	namespaced bool
	// hasStatus: the type has a status subresource; create and spec updates keep status out.
	hasStatus bool
	// allowCreateOnUpdate lets PUT create a missing object (endpoints, as upstream).
	allowCreateOnUpdate bool

	nameFunc       apimachineryvalidation.ValidateNameFunc
	validate       func(obj runtime.Object) field.ErrorList
	validateUpdate func(obj, old runtime.Object) field.ErrorList
	prepareCreate  func(obj runtime.Object)
	prepareUpdate  func(obj, old runtime.Object)
}

func (s *strategy) NamespaceScoped() bool { return s.namespaced }

func (s *strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if s.hasStatus {
		resetField(obj, "Status")
	}
	if accessor, err := meta.Accessor(obj); err == nil && tracksGeneration(obj) {
		accessor.SetGeneration(1)
	}
	if s.prepareCreate != nil {
		s.prepareCreate(obj)
	}
}

func (s *strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	if s.hasStatus {
		copyField(obj, old, "Status")
	}
	if tracksGeneration(obj) {
		newAcc, _ := meta.Accessor(obj)
		oldAcc, _ := meta.Accessor(old)
		newAcc.SetGeneration(oldAcc.GetGeneration())
		if !equality.Semantic.DeepEqual(field0(obj, "Spec"), field0(old, "Spec")) {
			newAcc.SetGeneration(oldAcc.GetGeneration() + 1)
		}
	}
	if s.prepareUpdate != nil {
		s.prepareUpdate(obj, old)
	}
}

// Validate runs the type's validation, which covers metadata too; types without one get
// the generic metadata checks.
func (s *strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	if s.validate != nil {
		return s.validate(obj)
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	nameFunc := s.nameFunc
	if nameFunc == nil {
		nameFunc = apimachineryvalidation.NameIsDNSSubdomain
	}
	return apimachineryvalidation.ValidateObjectMetaAccessor(accessor, s.namespaced, nameFunc, field.NewPath("metadata"))
}

// ValidateUpdate runs the type's update validation (immutable fields, metadata).
func (s *strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	if s.validateUpdate != nil {
		return s.validateUpdate(obj, old)
	}
	newAcc, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	oldAcc, _ := meta.Accessor(old)
	return apimachineryvalidation.ValidateObjectMetaAccessorUpdate(newAcc, oldAcc, field.NewPath("metadata"))
}

func (s *strategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string { return nil }
func (s *strategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return nil
}
func (s *strategy) Canonicalize(obj runtime.Object)               {}
func (s *strategy) AllowCreateOnUpdate(context.Context) bool      { return s.allowCreateOnUpdate }
func (s *strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// GetResetFields tells server-side apply that status belongs to the status subresource.
func (s *strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.hasStatus {
		return nil
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(s.gv.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// podDeleteStrategy deletes pods gracefully, as kube-apiserver does: a scheduled, still
// running pod gets a deletionTimestamp and its grace period, and its kubelet finishes the
// deletion once the containers have stopped.
type podDeleteStrategy struct {
	*strategy
}

var _ rest.RESTGracefulDeleteStrategy = podDeleteStrategy{}

func (podDeleteStrategy) CheckGracefulDelete(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if options == nil {
		return false
	}
	pod := obj.(*corev1.Pod)
	period := int64(0)
	if options.GracePeriodSeconds != nil {
		period = *options.GracePeriodSeconds
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	options.GracePeriodSeconds = &period
	return true
}

// statusStrategy is the strategy of a status subresource: only status (and metadata the
// generic registry allows) may change.
type statusStrategy struct {
	*strategy
	validateStatus func(obj, old runtime.Object) field.ErrorList
	prepareStatus  func(obj, old runtime.Object)
}

func (s *statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	v := reflect.ValueOf(obj).Elem()
	o := reflect.ValueOf(old).Elem()
	for i := 0; i < v.NumField(); i++ {
		switch v.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
		default:
			v.Field(i).Set(o.Field(i))
		}
	}
	newAcc, _ := meta.Accessor(obj)
	oldAcc, _ := meta.Accessor(old)
	newAcc.SetLabels(oldAcc.GetLabels())
	newAcc.SetGeneration(oldAcc.GetGeneration())
	if s.prepareStatus != nil {
		s.prepareStatus(obj, old)
	}
}

func (s *statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	if s.validateStatus != nil {
		return s.validateStatus(obj, old)
	}
	newAcc, _ := meta.Accessor(obj)
	oldAcc, _ := meta.Accessor(old)
	return apimachineryvalidation.ValidateObjectMetaAccessorUpdate(newAcc, oldAcc, field.NewPath("metadata"))
}

func (s *statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(s.gv.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
		),
	}
}

var _ rest.RESTCreateStrategy = (*strategy)(nil)
var _ rest.RESTUpdateStrategy = (*statusStrategy)(nil)

// tracksGeneration reports the kinds whose metadata.generation kube-apiserver counts (spec
// changes of workloads, ingresses and pods); Services, Nodes and Namespaces have none.
func tracksGeneration(obj runtime.Object) bool {
	switch obj.(type) {
	case *appsv1.Deployment, *appsv1.ReplicaSet, *appsv1.DaemonSet, *networkingv1.Ingress, *corev1.Pod:
		return true
	}
	return false
}

func hasField(obj runtime.Object, name string) bool {
	return reflect.ValueOf(obj).Elem().FieldByName(name).IsValid()
}

func field0(obj runtime.Object, name string) any {
	return reflect.ValueOf(obj).Elem().FieldByName(name).Interface()
}

func resetField(obj runtime.Object, name string) {
	f := reflect.ValueOf(obj).Elem().FieldByName(name)
	if f.IsValid() {
		f.Set(reflect.Zero(f.Type()))
	}
}

func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	s := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && s.IsValid() {
		d.Set(s)
	}
}
