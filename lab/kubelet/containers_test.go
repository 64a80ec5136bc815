package kubelet

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/runtime"
)

func (h *harness) ensureImageCalls(ref string) int {
	n := 0
	for _, c := range h.rt.Calls() {
		if c.Op == "EnsureImage" && c.ID == ref {
			n++
		}
	}
	return n
}

func TestImagePullFailure(t *testing.T) {
	h := newHarness(t)
	const image = "nginx:1.27"
	pullErr := fmt.Errorf("%w: failed to resolve reference \"docker.io/library/nginx:1.27\": dial tcp: lookup registry-1.docker.io: no such host", runtime.ErrImageNotFound)
	h.rt.PullErr[image] = pullErr
	w := h.start(testPod("pull", func(p *corev1.Pod) { p.Spec.Containers[0].Image = image }))
	h.sync(w)

	waiting := func() *corev1.ContainerStateWaiting {
		t.Helper()
		return containerStatus(h.pod("pull"), "app").State.Waiting
	}
	if st := waiting(); st == nil || st.Reason != "ErrImagePull" || st.Message != pullErr.Error() {
		t.Fatalf("waiting = %+v", st)
	}
	ev := h.events()
	for _, want := range []string{
		`Normal Pulling Pulling image "nginx:1.27"`,
		fmt.Sprintf(`Warning Failed Failed to pull image "nginx:1.27": %v`, pullErr),
		"Warning Failed Error: ErrImagePull",
	} {
		if !hasEvent(ev, want) {
			t.Errorf("missing event %q in %q", want, ev)
		}
	}
	if p := h.pod("pull"); p.Status.Phase != corev1.PodPending || condition(p, corev1.PodReady).Status != corev1.ConditionFalse {
		t.Errorf("phase %s ready %v", p.Status.Phase, condition(p, corev1.PodReady))
	}

	// Within the 10s back-off: ImagePullBackOff, no new pull, the error kept in the message.
	h.step(w, time.Second)
	if st := waiting(); st == nil || st.Reason != "ImagePullBackOff" ||
		st.Message != fmt.Sprintf(`Back-off pulling image "nginx:1.27": ErrImagePull: %v`, pullErr) {
		t.Errorf("waiting = %+v", st)
	}
	ev = h.events()
	if !hasEvent(ev, `Normal BackOff Back-off pulling image "nginx:1.27"`) || !hasEvent(ev, "Warning Failed Error: ImagePullBackOff") {
		t.Errorf("back-off events missing: %q", ev)
	}
	h.step(w, 5*time.Second)
	if n := h.ensureImageCalls(image); n != 1 {
		t.Errorf("pulled %d times within the back-off, want 1", n)
	}
	if ev := h.events(); hasEvent(ev, `Normal BackOff Back-off pulling image "nginx:1.27"`) {
		t.Errorf("back-off event repeated on every pass: %q", ev)
	}
	// After it: pulled again, and it fails again.
	h.step(w, 5*time.Second)
	if n := h.ensureImageCalls(image); n != 2 {
		t.Errorf("pulls after 11s = %d, want 2", n)
	}
	if st := waiting(); st == nil || st.Reason != "ErrImagePull" {
		t.Errorf("waiting = %+v", st)
	}
	// The registry comes back: the container starts.
	delete(h.rt.PullErr, image)
	h.step(w, 21*time.Second)
	if _, ok := h.rt.Running()["app"]; !ok {
		t.Fatalf("not started once the image could be pulled: %+v", waiting())
	}
	found := false
	for _, e := range h.events() {
		found = found || e == `Normal Pulled Successfully pulled image "nginx:1.27" in 0s (0s including waiting)`
	}
	if !found {
		t.Error("no Pulled event")
	}
}

func TestPullPolicyNever(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("never", func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = "busybox:latest"
		p.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	}))
	h.sync(w)
	st := containerStatus(h.pod("never"), "app").State.Waiting
	if st == nil || st.Reason != "ErrImageNeverPull" || st.Message != `Container image "busybox:latest" is not present with pull policy of Never` {
		t.Errorf("waiting = %+v", st)
	}
	if h.ensureImageCalls("busybox:latest") != 0 {
		t.Error("pulled despite imagePullPolicy Never")
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("crash"))
	h.sync(w)
	status := func() corev1.ContainerStatus { return containerStatus(h.pod("crash"), "app") }

	// First crash: restarted at once.
	if err := h.rt.Exit("app", 1); err != nil {
		t.Fatal(err)
	}
	h.step(w, time.Second)
	cs := status()
	if cs.State.Running == nil || cs.RestartCount != 1 {
		t.Fatalf("after first crash: restarts %d state %+v", cs.RestartCount, cs.State)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" || lt.ContainerID == cs.ContainerID {
		t.Errorf("lastState = %+v", cs.LastTerminationState)
	}

	// Then 10s, 20s, 40s of back-off measured from each exit.
	for i, delay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		if err := h.rt.Exit("app", 2); err != nil {
			t.Fatal(err)
		}
		h.step(w, time.Second) // the exit is noticed within a pass; it happened "now"
		cs = status()
		wantMsg := fmt.Sprintf("back-off %s restarting failed container=app pod=crash_default(crash-uid)", delay)
		if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.State.Waiting.Message != wantMsg {
			t.Fatalf("crash %d: state = %+v, want CrashLoopBackOff %q", i+2, cs.State, wantMsg)
		}
		if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 {
			t.Errorf("crash %d: lastState = %+v", i+2, cs.LastTerminationState)
		}
		if p := h.pod("crash"); p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodReady).Status != corev1.ConditionFalse {
			t.Errorf("crash %d: phase %s, Ready %s", i+2, p.Status.Phase, condition(p, corev1.PodReady).Status)
		}
		if !hasEvent(h.events(), "Warning BackOff Back-off restarting failed container app in pod crash_default(crash-uid)") {
			t.Errorf("crash %d: no BackOff event", i+2)
		}
		h.step(w, delay-2*time.Second)
		if _, ok := h.rt.Running()["app"]; ok {
			t.Fatalf("crash %d: restarted before %v", i+2, delay)
		}
		h.step(w, 2*time.Second)
		if _, ok := h.rt.Running()["app"]; !ok {
			t.Fatalf("crash %d: not restarted after %v", i+2, delay)
		}
		if got := status().RestartCount; got != int32(i+2) {
			t.Errorf("crash %d: restartCount = %d", i+2, got)
		}
	}
}
