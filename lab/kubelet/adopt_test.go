package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svclab/svclab/lab/runtime"
)

// TestAdoptRunningContainers: a kubelet restarted under running pods takes them over instead
// of starting them again.
func TestAdoptRunningContainers(t *testing.T) {
	h := newHarness(t)
	pod := testPod("adopt", func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
	})
	id := runtimeID(pod.UID, "app", 2)
	if err := h.rt.Start(h.ctx, runtime.ContainerSpec{ID: id, PodName: "adopt", ContainerName: "app", Image: testImage}); err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: testImage, RestartCount: 2,
		ContainerID: "containerd://" + id, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(testStart)}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}
	w := h.start(pod)
	h.sync(w)
	starts := 0
	for _, c := range h.rt.Calls() {
		if c.Op == "Start" {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("container started again (%d starts)", starts)
	}
	cs := containerStatus(h.pod("adopt"), "app")
	if cs.RestartCount != 2 || cs.State.Running == nil || cs.ContainerID != "containerd://"+id ||
		cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
		t.Errorf("adopted status = %+v", cs)
	}
	if probersOf(w, "app", readiness) == nil {
		t.Error("no readiness prober for the adopted container")
	}

	// Gone from the runtime: reported and restarted.
	h.rt.Cleanup(h.ctx)
	h.step(w, syncPeriod)
	cs = containerStatus(h.pod("adopt"), "app")
	if cs.RestartCount != 3 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.Reason != "ContainerStatusUnknown" {
		t.Errorf("after loss: %+v", cs)
	}
}
