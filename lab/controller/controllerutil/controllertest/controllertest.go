package controllertest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// Epoch is the creation time of the first object the fake client creates; each later object is
// one second younger, so "newer first" orderings are deterministic.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClient returns a fake clientset that, like an API server, fills in names for generateName,
// UIDs and creation timestamps, and bumps metadata.generation when a spec changes.
func NewClient(objs ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(objs...)
	var seq atomic.Int64
	c.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.CreateAction).GetObject()
		m, ok := obj.(metav1.Object)
		if !ok {
			return false, nil, nil
		}
		n := seq.Add(1)
		if m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), n))
		}
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%s-%d", m.GetName(), n)))
		}
		if ts := m.GetCreationTimestamp(); ts.IsZero() {
			m.SetCreationTimestamp(metav1.NewTime(Epoch.Add(time.Duration(n) * time.Second)))
		}
		if m.GetGeneration() == 0 {
			m.SetGeneration(1)
		}
		return false, nil, nil
	})
	return c
}

// Refresh replaces the informer caches of factory with what the fake client holds now, so a
// test can call a controller's sync function against an up-to-date cache without running
// informers. Only informers already requested from the factory are refreshed.
func Refresh(t testing.TB, client *fake.Clientset, factory informers.SharedInformerFactory) {
	t.Helper()
	ctx := context.Background()
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	must(t, err)
	rss, err := client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	must(t, err)
	deps, err := client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	must(t, err)
	dss, err := client.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	must(t, err)
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	must(t, err)
	crs, err := client.AppsV1().ControllerRevisions("").List(ctx, metav1.ListOptions{})
	must(t, err)

	replace(t, factory.Core().V1().Pods().Informer().GetStore().Replace, podsAsAny(pods.Items))
	replace(t, factory.Apps().V1().ReplicaSets().Informer().GetStore().Replace, rsAsAny(rss.Items))
	replace(t, factory.Apps().V1().Deployments().Informer().GetStore().Replace, depAsAny(deps.Items))
	replace(t, factory.Apps().V1().DaemonSets().Informer().GetStore().Replace, dsAsAny(dss.Items))
	replace(t, factory.Core().V1().Nodes().Informer().GetStore().Replace, nodeAsAny(nodes.Items))
	replace(t, factory.Apps().V1().ControllerRevisions().Informer().GetStore().Replace, crAsAny(crs.Items))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func replace(t testing.TB, fn func([]any, string) error, items []any) {
	t.Helper()
	must(t, fn(items, ""))
}

func podsAsAny(in []corev1.Pod) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out
}

func rsAsAny(in []appsv1.ReplicaSet) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out
}

func depAsAny(in []appsv1.Deployment) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out
}

func dsAsAny(in []appsv1.DaemonSet) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out
}

func nodeAsAny(in []corev1.Node) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out
}

func crAsAny(in []appsv1.ControllerRevision) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out
}

// SetPodsReady marks every pod matched by keep as Running and Ready since readySince, and
// schedules it on a node if it has none.
func SetPodsReady(t testing.TB, client *fake.Clientset, namespace string, readySince time.Time, keep func(*corev1.Pod) bool) int {
	t.Helper()
	ctx := context.Background()
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	must(t, err)
	n := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if keep != nil && !keep(p) {
			continue
		}
		if p.Spec.NodeName == "" {
			p.Spec.NodeName = "node-1"
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince),
		}}
		_, err := client.CoreV1().Pods(namespace).Update(ctx, p, metav1.UpdateOptions{})
		must(t, err)
		n++
	}
	return n
}

// ListPods returns the pods in namespace.
func ListPods(t testing.TB, client *fake.Clientset, namespace string) []corev1.Pod {
	t.Helper()
	pods, err := client.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{})
	must(t, err)
	return pods.Items
}
