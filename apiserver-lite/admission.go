package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"
)

// lifecycleAdmission is kube-apiserver's NamespaceLifecycle and ServiceAccount admission,
// reduced to what the lab needs: objects can't be created in a namespace that doesn't
// exist or is terminating, the system namespaces can't be deleted, and pods run as the
// namespace's default service account unless they name one.
type lifecycleAdmission struct {
	s *Server
}

var (
	_ admission.MutationInterface   = lifecycleAdmission{}
	_ admission.ValidationInterface = lifecycleAdmission{}
)

func newAdmission(s *Server) admission.Interface { return lifecycleAdmission{s: s} }

func (a lifecycleAdmission) Handles(op admission.Operation) bool {
	return op == admission.Create || op == admission.Delete
}

// immortalNamespaces can't be deleted, as in Kubernetes.
var immortalNamespaces = map[string]bool{
	metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true, corev1.NamespaceNodeLease: true,
}

func (a lifecycleAdmission) Admit(ctx context.Context, attr admission.Attributes, _ admission.ObjectInterfaces) error {
	if attr.GetOperation() != admission.Create || attr.GetSubresource() != "" {
		return nil
	}
	pod, ok := attr.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	if pod.Spec.DeprecatedServiceAccount == "" {
		pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	}
	// DefaultTolerationSeconds and Priority admission.
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if !tolerates(pod.Spec.Tolerations, key) {
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: key,
				Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)})
		}
	}
	if pod.Spec.Priority == nil {
		pod.Spec.Priority = ptr.To[int32](0)
	}
	if pod.Spec.PreemptionPolicy == nil {
		pod.Spec.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	}
	return nil
}

func tolerates(ts []corev1.Toleration, key string) bool {
	for _, t := range ts {
		if (t.Key == key || t.Key == "" && t.Operator == corev1.TolerationOpExists) &&
			(t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}

func (a lifecycleAdmission) Validate(ctx context.Context, attr admission.Attributes, _ admission.ObjectInterfaces) error {
	gk := attr.GetKind().GroupKind()
	if attr.GetOperation() == admission.Delete {
		if gk == corev1.SchemeGroupVersion.WithKind("Namespace").GroupKind() && immortalNamespaces[attr.GetName()] {
			return admission.NewForbidden(attr, fmt.Errorf("this namespace may not be deleted"))
		}
		return nil
	}
	if attr.GetNamespace() == "" || gk.Kind == "Namespace" && gk.Group == "" {
		return nil
	}
	nsStore := a.s.stores[corev1.Resource("namespaces")]
	if nsStore == nil {
		return nil
	}
	obj, err := nsStore.Get(genericapirequest.WithNamespace(ctx, ""), attr.GetNamespace(), &metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(corev1.Resource("namespaces"), attr.GetNamespace())
	}
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	ns := obj.(*corev1.Namespace)
	if ns.Status.Phase == corev1.NamespaceTerminating && !(gk.Kind == "Event") {
		return admission.NewForbidden(attr, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns.Name))
	}
	return nil
}
