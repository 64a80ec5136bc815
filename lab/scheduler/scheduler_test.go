package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fixture runs a Scheduler against a fake clientset whose pods/binding subresource behaves
// like the API server's: it sets spec.nodeName, or fails with Conflict if already set.
type fixture struct {
	client *fake.Clientset
	mu     sync.Mutex
	binds  map[string]int // pod name -> binding calls
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{client: fake.NewClientset(objs...), binds: map[string]int{}}
	podsGVR := corev1.SchemeGroupVersion.WithResource("pods")
	f.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		f.mu.Lock()
		f.binds[b.Name]++
		f.mu.Unlock()
		obj, err := f.client.Tracker().Get(podsGVR, a.GetNamespace(), b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		if p.Spec.NodeName != "" {
			return true, nil, apierrors.NewConflict(corev1.Resource("pods/binding"), b.Name,
				fmt.Errorf("pod %v is already assigned to node %q", b.Name, p.Spec.NodeName))
		}
		p.Spec.NodeName = b.Target.Name
		return true, b, f.client.Tracker().Update(podsGVR, p, a.GetNamespace())
	})
	factory := informers.NewSharedInformerFactory(f.client, 0)
	s, err := New(f.client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	factory.Start(ctx.Done())
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
	return f
}

// eventually polls cond every 10ms for up to 10s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

func (f *fixture) create(t *testing.T, objs ...runtime.Object) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Pod:
			_, err = f.client.CoreV1().Pods(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Node:
			_, err = f.client.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("unexpected %T", o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// bindCalls returns how many binding requests each pod got.
func (f *fixture) bindCalls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.binds)
}

func (f *fixture) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	p, err := f.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) waitBound(t *testing.T, name string) string {
	t.Helper()
	var n string
	eventually(t, name+" to be bound", func() (bool, string) {
		n = f.pod(t, name).Spec.NodeName
		return n != "", "unbound"
	})
	return n
}

func (f *fixture) events(t *testing.T) []corev1.Event {
	t.Helper()
	l, err := f.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func (f *fixture) waitEvent(t *testing.T, podName, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	eventually(t, reason+" event for "+podName, func() (bool, string) {
		evs := f.events(t)
		for _, e := range evs {
			if e.InvolvedObject.Name == podName && e.Reason == reason {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(evs))
	})
	return found
}

func TestSchedulerSpreadsAndRecordsScheduled(t *testing.T) {
	f := newFixture(t,
		node("svclab-control-plane", withTaint("node-role.kubernetes.io/control-plane", "", corev1.TaintEffectNoSchedule)),
		node("svclab-worker"), node("svclab-worker2"))
	names := []string{"web-a", "web-b", "web-c", "web-d"}
	for _, n := range names {
		f.create(t, pod(n, ownedBy("rs1"), labelled("app", "web")))
	}
	perNode := map[string]int{}
	for _, n := range names {
		perNode[f.waitBound(t, n)]++
	}
	if perNode["svclab-worker"] != 2 || perNode["svclab-worker2"] != 2 {
		t.Errorf("placement = %v, want 2 per worker and none on the tainted control plane", perNode)
	}
	e := f.waitEvent(t, "web-a", "Scheduled")
	node := f.pod(t, "web-a").Spec.NodeName
	if want := "Successfully assigned default/web-a to " + node; e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}
	if e.Type != corev1.EventTypeNormal || e.Source.Component != "default-scheduler" || e.ReportingController != "default-scheduler" ||
		e.InvolvedObject.Kind != "Pod" {
		t.Errorf("event = type %s source %s controller %s involved %+v", e.Type, e.Source.Component, e.ReportingController, e.InvolvedObject)
	}
	b := f.bindCalls()
	for _, n := range names {
		if b[n] != 1 {
			t.Errorf("%s bound %d times, want once", n, b[n])
		}
	}
}

func TestSchedulerUnschedulableUntilNodeChanges(t *testing.T) {
	f := newFixture(t, node("node-1"), node("node-2"), node("node-3", withTaint("dedicated", "db", corev1.TaintEffectNoSchedule)))
	f.create(t, pod("web", selector("disktype", "ssd")))

	e := f.waitEvent(t, "web", "FailedScheduling")
	want := "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match Pod's node affinity/selector. " +
		"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	if e.Message != want || e.Type != corev1.EventTypeWarning || e.Source.Component != "default-scheduler" {
		t.Errorf("event = %s %s %q\nwant message %q", e.Type, e.Source.Component, e.Message, want)
	}
	eventually(t, "PodScheduled=False", func() (bool, string) {
		for _, c := range f.pod(t, "web").Status.Conditions {
			if c.Type == corev1.PodScheduled {
				ok := c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == want
				return ok, fmt.Sprintf("%+v", c)
			}
		}
		return false, "no PodScheduled condition"
	})

	n := f.pod(t, "web") // unchanged pod: still unbound
	if n.Spec.NodeName != "" {
		t.Fatalf("bound to %s without a matching node", n.Spec.NodeName)
	}
	n2, err := f.client.CoreV1().Nodes().Get(context.Background(), "node-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n2.Labels["disktype"] = "ssd"
	if _, err := f.client.CoreV1().Nodes().Update(context.Background(), n2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.waitBound(t, "web"); got != "node-2" {
		t.Errorf("bound to %s after labelling node-2", got)
	}
}

func TestSchedulerRetriesWhenAHostPortIsFreed(t *testing.T) {
	f := newFixture(t, node("only"))
	f.create(t, pod("first", hostPortOn(80, "", "")))
	if got := f.waitBound(t, "first"); got != "only" {
		t.Fatalf("first bound to %q", got)
	}
	f.create(t, pod("second", hostPortOn(80, "", "")))
	e := f.waitEvent(t, "second", "FailedScheduling")
	if !strings.Contains(e.Message, "1 node(s) didn't have free ports for the requested pod ports") ||
		!strings.Contains(e.Message, "1 No preemption victims found for incoming pod") {
		t.Errorf("note = %q", e.Message)
	}
	if err := f.client.CoreV1().Pods("default").Delete(context.Background(), "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.waitBound(t, "second"); got != "only" {
		t.Errorf("second bound to %q", got)
	}
}

func TestSchedulerRetriesWhenANodeBecomesReady(t *testing.T) {
	f := newFixture(t)
	f.create(t, pod("web"))
	e := f.waitEvent(t, "web", "FailedScheduling")
	if e.Message != "no nodes available to schedule pods" {
		t.Errorf("note = %q", e.Message)
	}
	f.create(t, node("new", withReady(corev1.ConditionFalse)))
	ctx := context.Background()
	eventually(t, "a second FailedScheduling", func() (bool, string) {
		for _, c := range f.pod(t, "web").Status.Conditions {
			if c.Type == corev1.PodScheduled && strings.Contains(c.Message, "1 node(s) had untolerated taint(s)") {
				return true, ""
			}
		}
		return false, "condition not updated"
	})
	n, err := f.client.CoreV1().Nodes().Get(ctx, "new", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := f.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.waitBound(t, "web"); got != "new" {
		t.Errorf("bound to %q", got)
	}
}

func TestSchedulerLeavesOtherPodsAlone(t *testing.T) {
	f := newFixture(t, node("n1"))
	f.create(t,
		pod("other-scheduler", func(p *corev1.Pod) { p.Spec.SchedulerName = "my-scheduler" }),
		pod("prebound", onNode("n1")),
		pod("done", phase(corev1.PodSucceeded)),
		pod("empty-scheduler-name", func(p *corev1.Pod) { p.Spec.SchedulerName = "" }),
		pod("gated", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} }),
	)
	f.create(t, pod("mine"))
	f.waitBound(t, "mine") // queued after the others, so they have been seen by now
	f.waitBound(t, "empty-scheduler-name")
	for _, name := range []string{"other-scheduler", "done", "gated"} {
		if n := f.pod(t, name).Spec.NodeName; n != "" {
			t.Errorf("%s bound to %s", name, n)
		}
	}
	if b := f.bindCalls(); b["prebound"] != 0 || b["other-scheduler"] != 0 || b["done"] != 0 || b["gated"] != 0 {
		t.Errorf("binding calls = %v", b)
	}
	for _, e := range f.events(t) {
		if e.InvolvedObject.Name == "gated" {
			t.Errorf("event for a gated pod: %s %q", e.Reason, e.Message)
		}
	}
	// Removing the gate lets the pod be scheduled.
	g := f.pod(t, "gated")
	g.Spec.SchedulingGates = nil
	if _, err := f.client.CoreV1().Pods("default").Update(context.Background(), g, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitBound(t, "gated")
}

// TestBindConflictIsNotRetried covers a pod bound by someone else between the cache read and
// the binding: the conflict ends the cycle without an error or an event.
func TestBindConflictIsNotRetried(t *testing.T) {
	p := pod("web")
	client := fake.NewClientset(p)
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewConflict(corev1.Resource("pods/binding"), "web", fmt.Errorf("already assigned"))
	})
	s, err := New(client, informers.NewSharedInformerFactory(client, 0), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.bind(context.Background(), p, "n1"); err != nil {
		t.Errorf("bind on conflict = %v, want nil", err)
	}
	if s.isAssumed(p) {
		t.Error("pod still assumed after a failed binding")
	}
}
