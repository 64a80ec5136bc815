package replicaset

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/controller/controllerutil/controllertest"
)

const ns = "default"

type harness struct {
	t        *testing.T
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	c        *Controller
	recorder *record.FakeRecorder
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := controllertest.NewClient(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := record.NewFakeRecorder(100)
	c.recorder = rec
	c.podControl.Recorder = rec
	return &harness{t: t, client: client, factory: factory, c: c, recorder: rec}
}

// sync refreshes the caches from the fake API and runs one sync of ns/name.
func (h *harness) sync(name string) error {
	h.t.Helper()
	controllertest.Refresh(h.t, h.client, h.factory)
	return h.c.syncReplicaSet(context.Background(), ns+"/"+name)
}

func (h *harness) rs(name string) *appsv1.ReplicaSet {
	h.t.Helper()
	rs, err := h.client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func (h *harness) podNames() []string {
	var names []string
	for _, p := range controllertest.ListPods(h.t, h.client, ns) {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
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

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "rs-uid-" + "web", Generation: 2},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

func ownedPod(rs *appsv1.ReplicaSet, name string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: k8stypes.UID("uid-pod-" + name),
			Labels:            map[string]string{"app": "web", "tier": "front"},
			CreationTimestamp: metav1.NewTime(controllertest.Epoch),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)},
		},
		Spec: corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(controllertest.Epoch),
		}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func TestScaling(t *testing.T) {
	tests := []struct {
		name       string
		replicas   int32
		pods       func(rs *appsv1.ReplicaSet) []runtime.Object
		wantPods   []string
		wantEvents []string
	}{
		{
			name:     "scale up from zero creates pods with generateName",
			replicas: 3,
			wantPods: []string{"web-00001", "web-00002", "web-00003"},
			wantEvents: []string{
				"Normal SuccessfulCreate Created pod: web-00001",
				"Normal SuccessfulCreate Created pod: web-00002",
				"Normal SuccessfulCreate Created pod: web-00003",
			},
		},
		{
			name:     "scale down deletes unscheduled, pending, not ready before ready",
			replicas: 1,
			pods: func(rs *appsv1.ReplicaSet) []runtime.Object {
				return []runtime.Object{
					ownedPod(rs, "ready", nil),
					ownedPod(rs, "unscheduled", func(p *corev1.Pod) { p.Spec.NodeName = ""; p.Status.Phase = corev1.PodPending; notReady(p) }),
					ownedPod(rs, "notready", notReady),
				}
			},
			wantPods: []string{"ready"},
			wantEvents: []string{
				"Normal SuccessfulDelete Deleted pod: notready",
				"Normal SuccessfulDelete Deleted pod: unscheduled",
			},
		},
		{
			name:     "scale down prefers the newer of two ready pods",
			replicas: 1,
			pods: func(rs *appsv1.ReplicaSet) []runtime.Object {
				return []runtime.Object{
					ownedPod(rs, "old", nil),
					ownedPod(rs, "new", func(p *corev1.Pod) {
						p.CreationTimestamp = metav1.NewTime(controllertest.Epoch.Add(time.Hour))
						p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(time.Now().Add(-time.Minute))
					}),
				}
			},
			wantPods:   []string{"old"},
			wantEvents: []string{"Normal SuccessfulDelete Deleted pod: new"},
		},
		{
			name:     "terminal and terminating pods are ignored and replaced",
			replicas: 2,
			pods: func(rs *appsv1.ReplicaSet) []runtime.Object {
				return []runtime.Object{
					ownedPod(rs, "done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
					ownedPod(rs, "failed", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
					ownedPod(rs, "leaving", func(p *corev1.Pod) {
						p.DeletionTimestamp = ptr.To(metav1.Now())
						p.Finalizers = []string{"test/keep"}
					}),
					ownedPod(rs, "live", nil),
				}
			},
			wantPods:   []string{"done", "failed", "leaving", "live", "web-00001"},
			wantEvents: []string{"Normal SuccessfulCreate Created pod: web-00001"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRS("web", tt.replicas)
			objs := []runtime.Object{rs}
			if tt.pods != nil {
				objs = append(objs, tt.pods(rs)...)
			}
			h := newHarness(t, objs...)
			if err := h.sync("web"); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(h.podNames(), ","); got != strings.Join(tt.wantPods, ",") {
				t.Errorf("pods = %s, want %s", got, strings.Join(tt.wantPods, ","))
			}
			ev := h.events()
			sort.Strings(ev)
			if got, want := strings.Join(ev, "\n"), strings.Join(tt.wantEvents, "\n"); got != want {
				t.Errorf("events:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestCreatedPodsCarryTemplateAndControllerRef(t *testing.T) {
	rs := newRS("web", 1)
	h := newHarness(t, rs)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	pods := controllertest.ListPods(t, h.client, ns)
	if len(pods) != 1 {
		t.Fatalf("got %d pods, want 1", len(pods))
	}
	p := pods[0]
	if p.GenerateName != "web-" || p.Labels["tier"] != "front" || p.Spec.Containers[0].Image != "nginx" {
		t.Errorf("pod not built from template: generateName=%q labels=%v", p.GenerateName, p.Labels)
	}
	ref := metav1.GetControllerOf(&p)
	if ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.Name != "web" || ref.UID != rs.UID ||
		!ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("bad controller ref %+v", ref)
	}
}

func TestExpectationsPreventOverCreation(t *testing.T) {
	h := newHarness(t, newRS("web", 3))
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	// The informer has not observed the creations yet: syncing against a stale cache must not
	// create more pods.
	if err := h.c.syncReplicaSet(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	if got := len(h.podNames()); got != 3 {
		t.Fatalf("after stale resync got %d pods, want 3", got)
	}
	// Observing the creations satisfies the expectations; a fresh sync is then a no-op.
	for _, p := range controllertest.ListPods(t, h.client, ns) {
		h.c.addPod(&p)
	}
	if !h.c.expectations.SatisfiedExpectations(ns + "/web") {
		t.Fatal("expectations not satisfied after observing 3 creations")
	}
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	if got := len(h.podNames()); got != 3 {
		t.Fatalf("got %d pods, want 3", got)
	}
}

func TestAdoptionAndRelease(t *testing.T) {
	rs := newRS("web", 2)
	orphan := ownedPod(rs, "orphan", nil)
	orphan.OwnerReferences = nil
	strayed := ownedPod(rs, "strayed", nil)
	strayed.Labels = map[string]string{"app": "debug"}
	foreign := ownedPod(rs, "foreign", nil)
	foreign.OwnerReferences[0].UID = "someone-else"
	mine := ownedPod(rs, "mine", nil)
	h := newHarness(t, rs, orphan, strayed, foreign, mine)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	get := func(name string) *corev1.Pod {
		p, err := h.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if ref := metav1.GetControllerOf(get("orphan")); ref == nil || ref.UID != rs.UID {
		t.Errorf("orphan not adopted: %+v", get("orphan").OwnerReferences)
	}
	if refs := get("strayed").OwnerReferences; len(refs) != 0 {
		t.Errorf("strayed pod not released: %+v", refs)
	}
	if ref := metav1.GetControllerOf(get("foreign")); ref == nil || ref.UID != "someone-else" {
		t.Errorf("pod owned by another controller was touched: %+v", ref)
	}
	// orphan + mine make 2 replicas: nothing created, nothing deleted.
	if got := strings.Join(h.podNames(), ","); got != "foreign,mine,orphan,strayed" {
		t.Errorf("pods = %s", got)
	}
	if st := h.rs("web").Status; st.Replicas != 2 {
		t.Errorf("status.replicas = %d, want 2", st.Replicas)
	}
}

func TestStatus(t *testing.T) {
	rs := newRS("web", 4)
	rs.Spec.MinReadySeconds = 30
	recent := metav1.NewTime(time.Now().Add(-5 * time.Second))
	h := newHarness(t, rs,
		ownedPod(rs, "available", nil),
		ownedPod(rs, "ready-not-available", func(p *corev1.Pod) { p.Status.Conditions[0].LastTransitionTime = recent }),
		ownedPod(rs, "not-ready", notReady),
		ownedPod(rs, "partial-labels", func(p *corev1.Pod) { delete(p.Labels, "tier") }),
	)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	got := h.rs("web").Status
	want := appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2, ObservedGeneration: 2}
	if got.Replicas != want.Replicas || got.FullyLabeledReplicas != want.FullyLabeledReplicas ||
		got.ReadyReplicas != want.ReadyReplicas || got.AvailableReplicas != want.AvailableReplicas ||
		got.ObservedGeneration != want.ObservedGeneration {
		t.Errorf("status = %+v, want %+v", got, want)
	}
}
