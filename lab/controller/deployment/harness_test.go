package deployment

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/controller/controllerutil"
	"github.com/svclab/svclab/lab/controller/controllerutil/controllertest"
)

const ns = "default"

type harness struct {
	t        *testing.T
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	c        *Controller
	recorder *record.FakeRecorder
	podSeq   int
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := controllertest.NewClient(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := record.NewFakeRecorder(1000)
	c.recorder = rec
	return &harness{t: t, client: client, factory: factory, c: c, recorder: rec}
}

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	surge, unavail := intstr.FromInt32(1), intstr.FromInt32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "deploy-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail},
			},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

// syncD refreshes caches and runs one Deployment sync.
func (h *harness) syncD(name string) {
	h.t.Helper()
	controllertest.Refresh(h.t, h.client, h.factory)
	if err := h.c.syncDeployment(context.Background(), ns+"/"+name); err != nil {
		h.t.Fatalf("sync %s: %v", name, err)
	}
}

func (h *harness) deployment(name string) *appsv1.Deployment {
	h.t.Helper()
	d, err := h.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// update applies mutate to the Deployment spec and bumps generation, as the API server would.
func (h *harness) update(name string, mutate func(*appsv1.Deployment)) {
	h.t.Helper()
	d := h.deployment(name)
	mutate(d)
	d.Generation++
	if _, err := h.client.AppsV1().Deployments(ns).Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// replicaSets returns the ReplicaSets sorted by name.
func (h *harness) replicaSets() []appsv1.ReplicaSet {
	h.t.Helper()
	l, err := h.client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

func (h *harness) rsByImage(image string) *appsv1.ReplicaSet {
	h.t.Helper()
	for _, rs := range h.replicaSets() {
		if rs.Spec.Template.Spec.Containers[0].Image == image {
			return &rs
		}
	}
	return nil
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// simulateRS plays the ReplicaSet controller: it makes each ReplicaSet's pods match
// spec.replicas (new pods start Pending and not ready) and writes its status.
func (h *harness) simulateRS() {
	h.t.Helper()
	ctx := context.Background()
	for _, rs := range h.replicaSets() {
		var owned []corev1.Pod
		for _, p := range controllertest.ListPods(h.t, h.client, ns) {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID {
				owned = append(owned, p)
			}
		}
		want := int(*rs.Spec.Replicas)
		for len(owned) < want {
			h.podSeq++
			p := corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Name: fmt.Sprintf("%s-%03d", rs.Name, h.podSeq), Namespace: ns,
					Labels:          rs.Spec.Template.Labels,
					OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(&rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
				},
				Spec:   rs.Spec.Template.Spec,
				Status: corev1.PodStatus{Phase: corev1.PodPending},
			}
			if _, err := h.client.CoreV1().Pods(ns).Create(ctx, &p, metav1.CreateOptions{}); err != nil {
				h.t.Fatal(err)
			}
			owned = append(owned, p)
		}
		// Delete not-ready pods first, then the newest.
		sort.SliceStable(owned, func(i, j int) bool {
			ri, rj := controllerutil.IsPodReady(&owned[i]), controllerutil.IsPodReady(&owned[j])
			if ri != rj {
				return !ri
			}
			return owned[i].Name > owned[j].Name
		})
		for len(owned) > want {
			if err := h.client.CoreV1().Pods(ns).Delete(ctx, owned[0].Name, metav1.DeleteOptions{}); err != nil {
				h.t.Fatal(err)
			}
			owned = owned[1:]
		}
		var ready int32
		for i := range owned {
			if controllerutil.IsPodReady(&owned[i]) {
				ready++
			}
		}
		rs.Status = appsv1.ReplicaSetStatus{
			Replicas: int32(len(owned)), FullyLabeledReplicas: int32(len(owned)),
			ReadyReplicas: ready, AvailableReplicas: ready, ObservedGeneration: rs.Generation,
		}
		if _, err := h.client.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, &rs, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// markReady makes every pod ready (as kubelet-lite would) and refreshes ReplicaSet status.
func (h *harness) markReady() {
	h.t.Helper()
	controllertest.SetPodsReady(h.t, h.client, ns, time.Now().Add(-time.Hour), func(p *corev1.Pod) bool { return !controllerutil.IsPodReady(p) })
	h.simulateRS()
}

func (h *harness) readyPods() int {
	n := 0
	for _, p := range controllertest.ListPods(h.t, h.client, ns) {
		if controllerutil.IsPodReady(&p) {
			n++
		}
	}
	return n
}

// rollout drives a Deployment to completion, checking the surge and availability bounds
// after every step; it fails the test if the rollout does not complete in maxSteps.
func (h *harness) rollout(name string, maxTotal, minReady int, maxSteps int) {
	h.t.Helper()
	for step := 0; step < maxSteps; step++ {
		h.syncD(name)
		h.simulateRS()
		if n := len(controllertest.ListPods(h.t, h.client, ns)); maxTotal > 0 && n > maxTotal {
			h.t.Fatalf("step %d: %d pods exceed maxTotal %d", step, n, maxTotal)
		}
		if n := h.readyPods(); minReady > 0 && n < minReady {
			h.t.Fatalf("step %d: %d ready pods below minimum %d", step, n, minReady)
		}
		h.markReady()
		d := h.deployment(name)
		if d.Status.ObservedGeneration >= d.Generation && DeploymentComplete(d, &d.Status) {
			cond := GetDeploymentCondition(d.Status, appsv1.DeploymentProgressing)
			if cond != nil && cond.Reason == NewRSAvailableReason {
				return
			}
		}
	}
	h.t.Fatalf("rollout of %s did not complete in %d steps; status %+v", name, maxSteps, h.deployment(name).Status)
}
