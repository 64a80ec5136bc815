package ingress

import (
	networkingv1 "k8s.io/api/networking/v1"
)

// ControllerName is the spec.controller of IngressClasses served by svclab.
const ControllerName = "svclab.io/ingress"

// DefaultClassAnnotation marks the cluster's default IngressClass.
const DefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

// legacyClassAnnotation is the deprecated kubernetes.io/ingress.class annotation, still
// honoured by ingress-nginx and Traefik.
const legacyClassAnnotation = "kubernetes.io/ingress.class"

// Ours reports whether ing belongs to the class named class: its spec.ingressClassName (or the
// legacy annotation) names class or an IngressClass whose controller is ControllerName, or it
// names no class and one of our IngressClasses is marked as the default.
func Ours(ing *networkingv1.Ingress, class string, classes []*networkingv1.IngressClass) bool {
	name := ""
	if ing.Spec.IngressClassName != nil {
		name = *ing.Spec.IngressClassName
	} else if a, ok := ing.Annotations[legacyClassAnnotation]; ok {
		name = a
	}
	if name == "" {
		for _, c := range classes {
			if c.Spec.Controller == ControllerName && c.Annotations[DefaultClassAnnotation] == "true" {
				return true
			}
		}
		return false
	}
	if name == class {
		return true
	}
	for _, c := range classes {
		if c.Name == name {
			return c.Spec.Controller == ControllerName
		}
	}
	return false
}
