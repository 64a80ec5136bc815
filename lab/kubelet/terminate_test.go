package kubelet

import (
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/kubelet/kubelettest"
)

func TestGracefulTermination(t *testing.T) {
	for _, tc := range []struct {
		name      string
		grace     *int64 // deletionGracePeriodSeconds
		wantGrace time.Duration
	}{
		{"deletion grace", ptr.To[int64](5), 5 * time.Second},
		{"spec grace", nil, 30 * time.Second},
		{"grace 0 is raised to 2s", ptr.To[int64](0), 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			w := h.start(testPod("term", func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: testImage})
			}))
			h.sync(w)
			if len(h.rt.Running()) != 2 {
				t.Fatalf("running = %v", h.rt.Running())
			}
			pod := h.pod("term")
			now := metav1.NewTime(h.clock.Now())
			pod.DeletionTimestamp = &now
			pod.DeletionGracePeriodSeconds = tc.grace
			w.update(pod, false)
			if done := h.sync(w); !done {
				t.Fatal("worker not finished after termination")
			}
			var stops []kubelettest.Call
			for _, c := range h.rt.Calls() {
				if c.Op == "Stop" {
					stops = append(stops, c)
				}
			}
			if len(stops) != 2 {
				t.Fatalf("stops = %+v", stops)
			}
			var teardown int64
			for _, c := range h.net.Calls() {
				if c.Op == "Teardown" {
					teardown = c.Seq
				}
			}
			for _, s := range stops {
				if s.Grace != tc.wantGrace {
					t.Errorf("stop grace = %v, want %v", s.Grace, tc.wantGrace)
				}
				if teardown == 0 || s.Seq > teardown {
					t.Errorf("network torn down (seq %d) before container stop (seq %d)", teardown, s.Seq)
				}
			}
			h.mu.Lock()
			deleteAt, deletes := h.deleteAt, h.deletes
			h.mu.Unlock()
			if len(deletes) != 1 || deleteAt < teardown {
				t.Fatalf("deletes %d, at %d (teardown %d)", len(deletes), deleteAt, teardown)
			}
			opts := deletes[0]
			if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 || opts.Preconditions == nil || *opts.Preconditions.UID != "term-uid" {
				t.Errorf("delete options = %+v", opts)
			}
			ev := h.events()
			for _, want := range []string{"Normal Killing Stopping container app", "Normal Killing Stopping container sidecar"} {
				if !hasEvent(ev, want) {
					t.Errorf("missing event %q", want)
				}
			}
			// The final status before the delete shows terminated containers and a terminal phase.
			var final *corev1.Pod
			for _, a := range h.client.Actions() {
				if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" {
					final = u.GetObject().(*corev1.Pod)
				}
			}
			if final == nil || final.Status.Phase != corev1.PodFailed {
				t.Errorf("final status phase = %v (exit 143 means Failed)", final)
			} else if cs := containerStatus(final, "app"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 143 || cs.Ready {
				t.Errorf("final container status = %+v", cs)
			}
			if _, err := os.Stat(h.k.podDir("term-uid")); !os.IsNotExist(err) {
				t.Errorf("pod dir left behind: %v", err)
			}
		})
	}
}

func TestPodRemovedFromAPI(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("gone"))
	h.sync(w)
	w.update(nil, true)
	if !h.sync(w) {
		t.Fatal("worker not finished")
	}
	if len(h.rt.Running()) != 0 {
		t.Error("containers still running")
	}
	torn := false
	for _, c := range h.net.Calls() {
		torn = torn || c.Op == "Teardown"
	}
	if !torn {
		t.Error("network not torn down")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.deletes) != 0 {
		t.Error("deleted a pod that was already gone")
	}
}

func TestStopAllPods(t *testing.T) {
	h := newHarness(t)
	a := h.start(testPod("a"))
	b := h.start(testPod("b", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](3) }))
	h.sync(a)
	h.sync(b)
	if err := h.k.StopAllPods(h.ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.rt.Running()) != 0 {
		t.Errorf("still running: %v", h.rt.Running())
	}
	graces := map[time.Duration]bool{}
	for _, c := range h.rt.Calls() {
		if c.Op == "Stop" {
			graces[c.Grace] = true
		}
	}
	if !graces[30*time.Second] || !graces[3*time.Second] {
		t.Errorf("stop graces = %v", graces)
	}
	if n := len(h.net.Calls()); n != 4 { // two setups, two teardowns
		t.Errorf("network calls = %+v", h.net.Calls())
	}
	if _, err := h.client.CoreV1().Pods("default").Get(h.ctx, "a", metav1.GetOptions{}); err != nil {
		t.Errorf("StopAllPods touched the API object: %v", err)
	}
	// Nothing restarts afterwards.
	h.step(a, time.Minute)
	if len(h.rt.Running()) != 0 {
		t.Error("a pod restarted after StopAllPods")
	}
}
