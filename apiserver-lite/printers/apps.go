package printers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Upstream describes the workload columns with the extensions/v1beta1 swagger docs; so do we,
// so that the descriptions match byte for byte.
var (
	containersColumn = metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."}
	imagesColumn     = metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."}
)

var deploymentHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		{Name: "Up-to-date", Type: "string", Description: extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]},
		{Name: "Available", Type: "string", Description: extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]},
		ageColumn(),
		containersColumn,
		imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]},
	},
	row: typed(printDeployment),
}

var replicaSetHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Desired", Type: "integer", Description: extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]},
		{Name: "Current", Type: "integer", Description: extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]},
		{Name: "Ready", Type: "integer", Description: extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]},
		ageColumn(),
		containersColumn,
		imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["selector"]},
	},
	row: typed(printReplicaSet),
}

var daemonSetHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Desired", Type: "integer", Description: extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]},
		{Name: "Current", Type: "integer", Description: extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]},
		{Name: "Ready", Type: "integer", Description: extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]},
		{Name: "Up-to-date", Type: "integer", Description: extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]},
		{Name: "Available", Type: "integer", Description: extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]},
		{Name: "Node Selector", Type: "string", Description: corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]},
		ageColumn(),
		containersColumn,
		imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]},
	},
	row: typed(printDaemonSet),
}

var statefulSetHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		ageColumn(),
		containersColumn,
		imagesColumn,
	},
	row: typed(func(obj *appsv1.StatefulSet) (metav1.TableRow, error) {
		names, images := layoutContainerCells(obj.Spec.Template.Spec.Containers)
		return metav1.TableRow{
			Cells: []interface{}{obj.Name, fmt.Sprintf("%d/%d", int64(obj.Status.ReadyReplicas), int64(specReplicas(obj.Spec.Replicas))),
				translateTimestampSince(obj.CreationTimestamp), names, images},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

var controllerRevisionHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Controller", Type: "string", Description: "Controller of the object"},
		{Name: "Revision", Type: "string", Description: appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]},
		ageColumn(),
	},
	row: typed(printControllerRevision),
}

// specReplicas reads a workload's spec.replicas. Upstream prints defaulted objects, where an
// omitted replicas is already 1.
func specReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func printDeployment(obj *appsv1.Deployment) (metav1.TableRow, error) {
	selectorString := "<invalid>"
	if selector, err := metav1.LabelSelectorAsSelector(obj.Spec.Selector); err == nil {
		selectorString = selector.String()
	}
	names, images := layoutContainerCells(obj.Spec.Template.Spec.Containers)
	return metav1.TableRow{
		Cells: []interface{}{obj.Name, fmt.Sprintf("%d/%d", int64(obj.Status.ReadyReplicas), int64(specReplicas(obj.Spec.Replicas))),
			int64(obj.Status.UpdatedReplicas), int64(obj.Status.AvailableReplicas), translateTimestampSince(obj.CreationTimestamp),
			names, images, selectorString},
		Object: runtime.RawExtension{Object: obj},
	}, nil
}

func printReplicaSet(obj *appsv1.ReplicaSet) (metav1.TableRow, error) {
	names, images := layoutContainerCells(obj.Spec.Template.Spec.Containers)
	return metav1.TableRow{
		Cells: []interface{}{obj.Name, int64(specReplicas(obj.Spec.Replicas)), int64(obj.Status.Replicas), int64(obj.Status.ReadyReplicas),
			translateTimestampSince(obj.CreationTimestamp), names, images, metav1.FormatLabelSelector(obj.Spec.Selector)},
		Object: runtime.RawExtension{Object: obj},
	}, nil
}

func printDaemonSet(obj *appsv1.DaemonSet) (metav1.TableRow, error) {
	names, images := layoutContainerCells(obj.Spec.Template.Spec.Containers)
	s := obj.Status
	return metav1.TableRow{
		Cells: []interface{}{obj.Name, int64(s.DesiredNumberScheduled), int64(s.CurrentNumberScheduled), int64(s.NumberReady),
			int64(s.UpdatedNumberScheduled), int64(s.NumberAvailable), labels.FormatLabels(obj.Spec.Template.Spec.NodeSelector),
			translateTimestampSince(obj.CreationTimestamp), names, images, metav1.FormatLabelSelector(obj.Spec.Selector)},
		Object: runtime.RawExtension{Object: obj},
	}, nil
}

// printControllerRevision prints the owning controller as kind.group/name, e.g. daemonset.apps/kube-proxy.
func printControllerRevision(obj *appsv1.ControllerRevision) (metav1.TableRow, error) {
	controllerName := "<none>"
	if ref := metav1.GetControllerOf(obj); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return metav1.TableRow{}, fmt.Errorf("parse controller apiVersion of controllerrevision %s: %w", obj.Name, err)
		}
		controllerName = formatResourceName(gv.WithKind(ref.Kind).GroupKind(), ref.Name)
	}
	return metav1.TableRow{
		Cells:  []interface{}{obj.Name, controllerName, obj.Revision, translateTimestampSince(obj.CreationTimestamp)},
		Object: runtime.RawExtension{Object: obj},
	}, nil
}

// formatResourceName returns kind.group/name in lower case, or name alone for an empty kind.
func formatResourceName(kind schema.GroupKind, name string) string {
	if kind.Empty() {
		return name
	}
	return strings.ToLower(kind.String()) + "/" + name
}

// layoutContainerCells joins container names and images with commas.
func layoutContainerCells(containers []corev1.Container) (names string, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}
