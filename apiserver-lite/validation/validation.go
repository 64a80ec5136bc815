package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate validates a new object of any served type except Service; unknown types get only
// ValidateObjectMeta (named like a path segment, namespaced when they carry a namespace).
func Validate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePodCreate(o)
	case *corev1.PodTemplate:
		return validatePodTemplate(o)
	case *corev1.Namespace:
		return validateNamespace(o)
	case *corev1.Node:
		return validateNode(o)
	case *corev1.ConfigMap:
		return validateConfigMap(o)
	case *corev1.Secret:
		return validateSecret(o)
	case *corev1.ServiceAccount:
		return validateObjectMeta(&o.ObjectMeta, true, apimachineryvalidation.ValidateServiceAccountName, field.NewPath("metadata"))
	case *corev1.Endpoints:
		return validateEndpoints(o)
	case *corev1.Event:
		return validateEvent(o)
	case *appsv1.Deployment:
		return validateDeployment(o)
	case *appsv1.ReplicaSet:
		return validateReplicaSet(o)
	case *appsv1.DaemonSet:
		return validateDaemonSet(o)
	case *appsv1.ControllerRevision:
		return validateControllerRevision(o)
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o)
	case *networkingv1.Ingress:
		return validateIngressCreate(o)
	case *networkingv1.IngressClass:
		return validateIngressClass(o)
	case *networkingv1.ServiceCIDR:
		return validateServiceCIDR(o)
	case *networkingv1.IPAddress:
		return validateIPAddress(o)
	case *eventsv1.Event:
		return validateEventsV1(o)
	case *nodev1.RuntimeClass:
		return validateRuntimeClass(o)
	case *coordinationv1.Lease:
		return validateLease(o)
	}
	return validateUnknownMeta(obj)
}

// ValidateUpdate validates an update of obj (the new object) over old: immutability and the
// restrictions Kubernetes puts on changes, plus everything Validate checks.
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		if p, ok := old.(*corev1.Pod); ok {
			return validatePodUpdate(o, p)
		}
	case *corev1.PodTemplate:
		if p, ok := old.(*corev1.PodTemplate); ok {
			return validatePodTemplateUpdate(o, p)
		}
	case *corev1.Namespace:
		if p, ok := old.(*corev1.Namespace); ok {
			return validateObjectMetaUpdate(&o.ObjectMeta, &p.ObjectMeta, field.NewPath("metadata"))
		}
	case *corev1.Node:
		if p, ok := old.(*corev1.Node); ok {
			return validateNodeUpdate(o, p)
		}
	case *corev1.ConfigMap:
		if p, ok := old.(*corev1.ConfigMap); ok {
			return validateConfigMapUpdate(o, p)
		}
	case *corev1.Secret:
		if p, ok := old.(*corev1.Secret); ok {
			return validateSecretUpdate(o, p)
		}
	case *corev1.Endpoints:
		if p, ok := old.(*corev1.Endpoints); ok {
			return append(validateObjectMetaUpdate(&o.ObjectMeta, &p.ObjectMeta, field.NewPath("metadata")), validateEndpoints(o)...)
		}
	case *corev1.Event:
		if p, ok := old.(*corev1.Event); ok {
			return append(validateObjectMetaUpdate(&o.ObjectMeta, &p.ObjectMeta, field.NewPath("metadata")), validateEvent(o)...)
		}
	case *appsv1.Deployment:
		if p, ok := old.(*appsv1.Deployment); ok {
			return validateDeploymentUpdate(o, p)
		}
	case *appsv1.ReplicaSet:
		if p, ok := old.(*appsv1.ReplicaSet); ok {
			return validateReplicaSetUpdate(o, p)
		}
	case *appsv1.DaemonSet:
		if p, ok := old.(*appsv1.DaemonSet); ok {
			return validateDaemonSetUpdate(o, p)
		}
	case *appsv1.ControllerRevision:
		if p, ok := old.(*appsv1.ControllerRevision); ok {
			return validateControllerRevisionUpdate(o, p)
		}
	case *discoveryv1.EndpointSlice:
		if p, ok := old.(*discoveryv1.EndpointSlice); ok {
			return validateEndpointSliceUpdate(o, p)
		}
	case *networkingv1.Ingress:
		if p, ok := old.(*networkingv1.Ingress); ok {
			return validateIngressUpdate(o, p)
		}
	case *networkingv1.IngressClass:
		if p, ok := old.(*networkingv1.IngressClass); ok {
			return validateIngressClassUpdate(o, p)
		}
	case *networkingv1.ServiceCIDR:
		if p, ok := old.(*networkingv1.ServiceCIDR); ok {
			return validateServiceCIDRUpdate(o, p)
		}
	case *networkingv1.IPAddress:
		if p, ok := old.(*networkingv1.IPAddress); ok {
			return validateIPAddressUpdate(o, p)
		}
	case *nodev1.RuntimeClass:
		if p, ok := old.(*nodev1.RuntimeClass); ok {
			allErrs := validateObjectMetaUpdate(&o.ObjectMeta, &p.ObjectMeta, field.NewPath("metadata"))
			allErrs = append(allErrs, validateImmutableField(o.Handler, p.Handler, field.NewPath("handler"))...)
			return append(allErrs, validateRuntimeClass(o)...)
		}
	}
	allErrs := metaUpdate(obj, old)
	if knownObject(obj) {
		return append(allErrs, Validate(obj)...)
	}
	return allErrs
}

// ValidateStatusUpdate validates an update through a status subresource (pods, deployments,
// replicasets, daemonsets, ingresses, servicecidrs, namespaces, nodes); other types get only
// the metadata update checks.
func ValidateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		if p, ok := old.(*corev1.Pod); ok {
			return validatePodStatusUpdate(o, p)
		}
	case *corev1.Namespace:
		if p, ok := old.(*corev1.Namespace); ok {
			return validateNamespaceStatusUpdate(o, p)
		}
	case *corev1.Node:
		if p, ok := old.(*corev1.Node); ok {
			return validateNodeUpdate(o, p)
		}
	case *appsv1.Deployment:
		if p, ok := old.(*appsv1.Deployment); ok {
			return validateDeploymentStatusUpdate(o, p)
		}
	case *appsv1.ReplicaSet:
		if p, ok := old.(*appsv1.ReplicaSet); ok {
			return validateReplicaSetStatusUpdate(o, p)
		}
	case *appsv1.DaemonSet:
		if p, ok := old.(*appsv1.DaemonSet); ok {
			return validateDaemonSetStatusUpdate(o, p)
		}
	case *networkingv1.Ingress:
		if p, ok := old.(*networkingv1.Ingress); ok {
			return validateIngressStatusUpdate(o, p)
		}
	case *networkingv1.ServiceCIDR:
		if p, ok := old.(*networkingv1.ServiceCIDR); ok {
			return validateServiceCIDRStatusUpdate(o, p)
		}
	}
	return metaUpdate(obj, old)
}

// NameFunc returns the name validation Kubernetes applies to a resource's objects: a DNS
// label for namespaces, the canonical IP for IPAddresses, a DNS subdomain for the other
// served types, and a path segment for types it does not know.
func NameFunc(obj runtime.Object) apimachineryvalidation.ValidateNameFunc {
	switch obj.(type) {
	case *corev1.Namespace:
		return apimachineryvalidation.ValidateNamespaceName
	case *networkingv1.IPAddress:
		return validateIPAddressName
	case *corev1.ServiceAccount:
		return apimachineryvalidation.ValidateServiceAccountName
	case *corev1.Service:
		return apimachineryvalidation.NameIsDNS1035Label
	}
	if knownObject(obj) {
		return nameIsDNSSubdomain
	}
	return pathvalidation.ValidatePathSegmentName
}

// knownObject reports whether Validate has a type-specific validator for obj.
func knownObject(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.Pod, *corev1.PodTemplate, *corev1.Namespace, *corev1.Node, *corev1.ConfigMap,
		*corev1.Secret, *corev1.ServiceAccount, *corev1.Endpoints, *corev1.Event,
		*appsv1.Deployment, *appsv1.ReplicaSet, *appsv1.DaemonSet, *appsv1.ControllerRevision,
		*discoveryv1.EndpointSlice, *networkingv1.Ingress, *networkingv1.IngressClass,
		*networkingv1.ServiceCIDR, *networkingv1.IPAddress, *eventsv1.Event, *nodev1.RuntimeClass,
		*coordinationv1.Lease:
		return true
	}
	return false
}

func validateUnknownMeta(obj runtime.Object) field.ErrorList {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessor(accessor, accessor.GetNamespace() != "", NameFunc(obj), field.NewPath("metadata"))
}

func metaUpdate(obj, old runtime.Object) field.ErrorList {
	newMeta, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
}

func validateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	allErrs := validateObjectMeta(&rc.ObjectMeta, false, nameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSLabel, rc.Handler, field.NewPath("handler"))...)
}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	allErrs := validateObjectMeta(&l.ObjectMeta, true, nameIsDNSSubdomain, field.NewPath("metadata"))
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	return allErrs
}

// validateEventsV1 validates an events.k8s.io/v1 Event the way upstream does after converting
// it to a core Event with eventTime set.
func validateEventsV1(e *eventsv1.Event) field.ErrorList {
	allErrs := validateObjectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain, field.NewPath("metadata"))
	if e.EventTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Regarding.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		allErrs = append(allErrs, field.Invalid(field.NewPath("regarding", "namespace"), e.Regarding.Namespace, "does not match event.namespace"))
	}
	rc := field.NewPath("reportingController")
	if len(e.ReportingController) == 0 {
		allErrs = append(allErrs, field.Required(rc, ""))
	}
	allErrs = append(allErrs, validateQualifiedName(e.ReportingController, rc)...)
	allErrs = append(allErrs, requiredLimited(e.ReportingInstance, reportingInstanceLengthLimit, field.NewPath("reportingInstance"))...)
	allErrs = append(allErrs, requiredLimited(e.Action, actionLengthLimit, field.NewPath("action"))...)
	allErrs = append(allErrs, requiredLimited(e.Reason, reasonLengthLimit, field.NewPath("reason"))...)
	if len(e.Note) > noteLengthLimit {
		allErrs = append(allErrs, field.Invalid(field.NewPath("note"), "", "can have at most 1024 characters"))
	}
	return allErrs
}
