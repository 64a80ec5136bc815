package apiserver

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// selectableFields lists, per kind, the field selectors Kubernetes supports beyond
// metadata.name and metadata.namespace, with how to read each from an object.
var selectableFields = map[schema.GroupKind]map[string]func(runtime.Object) string{
	{Kind: "Pod"}: {
		"spec.nodeName":           func(o runtime.Object) string { return o.(*corev1.Pod).Spec.NodeName },
		"spec.restartPolicy":      func(o runtime.Object) string { return string(o.(*corev1.Pod).Spec.RestartPolicy) },
		"spec.schedulerName":      func(o runtime.Object) string { return o.(*corev1.Pod).Spec.SchedulerName },
		"spec.serviceAccountName": func(o runtime.Object) string { return o.(*corev1.Pod).Spec.ServiceAccountName },
		"spec.hostNetwork":        func(o runtime.Object) string { return fmt.Sprint(o.(*corev1.Pod).Spec.HostNetwork) },
		"status.phase":            func(o runtime.Object) string { return string(o.(*corev1.Pod).Status.Phase) },
		"status.podIP":            func(o runtime.Object) string { return o.(*corev1.Pod).Status.PodIP },
		"status.nominatedNodeName": func(o runtime.Object) string {
			return o.(*corev1.Pod).Status.NominatedNodeName
		},
	},
	{Kind: "Event"}: {
		"involvedObject.kind":            func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.Kind },
		"involvedObject.namespace":       func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.Namespace },
		"involvedObject.name":            func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.Name },
		"involvedObject.uid":             func(o runtime.Object) string { return string(o.(*corev1.Event).InvolvedObject.UID) },
		"involvedObject.apiVersion":      func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.APIVersion },
		"involvedObject.resourceVersion": func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.ResourceVersion },
		"involvedObject.fieldPath":       func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.FieldPath },
		"reason":                         func(o runtime.Object) string { return o.(*corev1.Event).Reason },
		"reportingComponent":             func(o runtime.Object) string { return o.(*corev1.Event).ReportingController },
		"source":                         func(o runtime.Object) string { return o.(*corev1.Event).Source.Component },
		"type":                           func(o runtime.Object) string { return o.(*corev1.Event).Type },
	},
	{Group: "events.k8s.io", Kind: "Event"}: {
		"regarding.kind":      func(o runtime.Object) string { return o.(*eventsv1.Event).Regarding.Kind },
		"regarding.namespace": func(o runtime.Object) string { return o.(*eventsv1.Event).Regarding.Namespace },
		"regarding.name":      func(o runtime.Object) string { return o.(*eventsv1.Event).Regarding.Name },
		"regarding.uid":       func(o runtime.Object) string { return string(o.(*eventsv1.Event).Regarding.UID) },
		"reason":              func(o runtime.Object) string { return o.(*eventsv1.Event).Reason },
		"reportingController": func(o runtime.Object) string { return o.(*eventsv1.Event).ReportingController },
		"type":                func(o runtime.Object) string { return o.(*eventsv1.Event).Type },
	},
	{Kind: "Namespace"}: {
		"status.phase": func(o runtime.Object) string { return string(o.(*corev1.Namespace).Status.Phase) },
	},
	{Kind: "Node"}: {
		"spec.unschedulable": func(o runtime.Object) string { return fmt.Sprint(o.(*corev1.Node).Spec.Unschedulable) },
	},
	{Kind: "Secret"}: {
		"type": func(o runtime.Object) string { return string(o.(*corev1.Secret).Type) },
	},
	{Kind: "Service"}: {
		"spec.clusterIP": func(o runtime.Object) string { return o.(*corev1.Service).Spec.ClusterIP },
		"spec.type":      func(o runtime.Object) string { return string(o.(*corev1.Service).Spec.Type) },
	},
	{Group: "apps", Kind: "ReplicaSet"}: {
		"status.replicas": func(o runtime.Object) string { return fmt.Sprint(o.(*appsv1.ReplicaSet).Status.Replicas) },
	},
}

// getAttrs returns the labels and selectable fields of an object.
func getAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	set := fields.Set{"metadata.name": accessor.GetName()}
	if ns := accessor.GetNamespace(); ns != "" {
		set["metadata.namespace"] = ns
	}
	gvks, _, err := Scheme.ObjectKinds(obj)
	if err == nil && len(gvks) > 0 {
		for name, get := range selectableFields[gvks[0].GroupKind()] {
			set[name] = get(obj)
		}
	}
	return labels.Set(accessor.GetLabels()), set, nil
}

// registerFieldLabels makes field selectors other than the supported ones fail the way
// Kubernetes fails them: `field label not supported: spec.foo`.
func registerFieldLabels(s *runtime.Scheme) {
	for _, gv := range servedGroupVersions {
		for kind := range s.KnownTypes(gv) {
			if isMetaKind(kind) || strings.HasSuffix(kind, "List") || strings.HasSuffix(kind, "Options") {
				continue
			}
			gk := schema.GroupKind{Group: gv.Group, Kind: kind}
			extra := selectableFields[gk]
			err := s.AddFieldLabelConversionFunc(gv.WithKind(kind), func(label, value string) (string, string, error) {
				switch label {
				case "metadata.name", "metadata.namespace":
					return label, value, nil
				}
				if _, ok := extra[label]; ok {
					return label, value, nil
				}
				return "", "", fmt.Errorf("field label not supported: %s", label)
			})
			if err != nil {
				panic(err)
			}
		}
	}
}
