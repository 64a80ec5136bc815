package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func podTemplate(containers ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}
}

var (
	webContainer   = corev1.Container{Name: "web", Image: "svclab/agent:1.0"}
	proxyContainer = corev1.Container{Name: "proxy", Image: "envoyproxy/envoy:v1.30"}
	webSelector    = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	age7d          = metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(7*24*time.Hour + 3*time.Hour)}
)

func TestPrintDeployment(t *testing.T) {
	const cols = "NAME | READY | UP-TO-DATE | AVAILABLE | AGE | CONTAINERS (wide) | IMAGES (wide) | SELECTOR (wide)"
	cases := []rowCase{
		{"rolling out", &appsv1.Deployment{ObjectMeta: age7d,
			Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: webSelector, Template: podTemplate(webContainer, proxyContainer)},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2},
		}, []interface{}{"web", "2/3", int64(1), int64(2), "7d3h", "web,proxy", "svclab/agent:1.0,envoyproxy/envoy:v1.30", "app=web"}},
		{"scaled to zero with expression selector", &appsv1.Deployment{ObjectMeta: age7d,
			Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(0)), Template: podTemplate(webContainer), Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}}}},
		}, []interface{}{"web", "0/0", int64(0), int64(0), "7d3h", "web", "svclab/agent:1.0", "tier in (api,web)"}},
		{"invalid selector", &appsv1.Deployment{ObjectMeta: age7d,
			Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(1)), Template: podTemplate(webContainer), Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}}},
		}, []interface{}{"web", "0/1", int64(0), int64(0), "7d3h", "web", "svclab/agent:1.0", "<invalid>"}},
		{"replicas left to the default", &appsv1.Deployment{ObjectMeta: age7d,
			Spec: appsv1.DeploymentSpec{Selector: webSelector, Template: podTemplate(webContainer)},
		}, []interface{}{"web", "0/1", int64(0), int64(0), "7d3h", "web", "svclab/agent:1.0", "app=web"}},
	}
	checkRows(t, schema.GroupResource{Group: "apps", Resource: "deployments"}, cols, cases)
}

func TestPrintReplicaSet(t *testing.T) {
	const cols = "NAME | DESIRED | CURRENT | READY | AGE | CONTAINERS (wide) | IMAGES (wide) | SELECTOR (wide)"
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d4f8", CreationTimestamp: ago(90 * time.Second)},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Template: podTemplate(webContainer),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "5d4f8"}}},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
	}
	checkRows(t, schema.GroupResource{Group: "apps", Resource: "replicasets"}, cols, []rowCase{
		{"scaling up", rs, []interface{}{"web-5d4f8", int64(3), int64(3), int64(1), "90s", "web", "svclab/agent:1.0", "app=web,pod-template-hash=5d4f8"}},
		{"no selector", &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(0))}},
			[]interface{}{"old", int64(0), int64(0), int64(0), "<unknown>", "", "", "<none>"}},
	})
}

func TestPrintDaemonSet(t *testing.T) {
	const cols = "NAME | DESIRED | CURRENT | READY | UP-TO-DATE | AVAILABLE | NODE SELECTOR | AGE | CONTAINERS (wide) | IMAGES (wide) | SELECTOR (wide)"
	tmpl := podTemplate(corev1.Container{Name: "kube-proxy", Image: "svclab:dev"})
	tmpl.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system", CreationTimestamp: ago(40 * time.Minute)},
		Spec:   appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-proxy"}}, Template: tmpl},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2},
	}
	checkRows(t, schema.GroupResource{Group: "apps", Resource: "daemonsets"}, cols, []rowCase{
		{"kube-proxy", ds, []interface{}{"kube-proxy", int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "40m", "kube-proxy", "svclab:dev", "k8s-app=kube-proxy"}},
		{"no node selector", &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", CreationTimestamp: ago(40 * time.Minute)}},
			[]interface{}{"agent", int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "40m", "", "", "<none>"}},
	})
}

func TestPrintStatefulSet(t *testing.T) {
	checkRows(t, schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "NAME | READY | AGE | CONTAINERS (wide) | IMAGES (wide)", []rowCase{
		{"db", &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", CreationTimestamp: ago(9 * time.Minute)},
			Spec:   appsv1.StatefulSetSpec{Replicas: ptr(int32(2)), Template: podTemplate(corev1.Container{Name: "pg", Image: "postgres:17"})},
			Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}},
			[]interface{}{"db", "1/2", "9m", "pg", "postgres:17"}},
	})
}

func TestPrintControllerRevision(t *testing.T) {
	owned := func(apiVersion, kind, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "kube-proxy-7c9d", CreationTimestamp: ago(40 * time.Minute),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, Controller: ptr(true)}}}
	}
	checkRows(t, schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}, "NAME | CONTROLLER | REVISION | AGE", []rowCase{
		{"owned by a daemonset", &appsv1.ControllerRevision{ObjectMeta: owned("apps/v1", "DaemonSet", "kube-proxy"), Revision: 2},
			[]interface{}{"kube-proxy-7c9d", "daemonset.apps/kube-proxy", int64(2), "40m"}},
		{"owned by a core kind", &appsv1.ControllerRevision{ObjectMeta: owned("v1", "Pod", "p"), Revision: 1},
			[]interface{}{"kube-proxy-7c9d", "pod/p", int64(1), "40m"}},
		{"orphan", &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "orphan", CreationTimestamp: ago(40 * time.Minute)}, Revision: 1},
			[]interface{}{"orphan", "<none>", int64(1), "40m"}},
	})
}
