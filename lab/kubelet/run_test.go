package kubelet

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
)

// TestRun drives the whole loop over the fake API: registration, the informer, a pod worker,
// graceful deletion and shutdown.
func TestRun(t *testing.T) {
	h := newHarness(t)
	h.k.clock = clock.RealClock{}
	h.k.manualProbes = false
	h.k.backoff.Clock = clock.RealClock{}
	h.k.pullBO.Clock = clock.RealClock{}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.k.Run(ctx) }()

	if _, err := h.client.CoreV1().Pods("default").Create(h.ctx, testPod("run"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := testPod("elsewhere", func(p *corev1.Pod) { p.Spec.NodeName = "node-2" })
	if _, err := h.client.CoreV1().Pods("default").Create(h.ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod Running and Ready", func() bool {
		p := h.pod("run")
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady).Status == corev1.ConditionTrue
	})
	if _, err := h.client.CoreV1().Nodes().Get(h.ctx, "node-1", metav1.GetOptions{}); err != nil {
		t.Errorf("node not registered: %v", err)
	}
	waitFor(t, "node lease", func() bool {
		_, err := h.client.CoordinationV1().Leases("kube-node-lease").Get(h.ctx, "node-1", metav1.GetOptions{})
		return err == nil
	})
	if len(h.rt.RunningPod("elsewhere")) != 0 {
		t.Error("started a pod bound to another node")
	}

	// Graceful deletion as the API server records it: deletionTimestamp set, object kept.
	p := h.pod("run")
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, new(int64(1))
	if _, err := h.client.CoreV1().Pods("default").Update(h.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod deleted by the kubelet", func() bool {
		_, err := h.client.CoreV1().Pods("default").Get(h.ctx, "run", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if len(h.rt.RunningPod("run")) != 0 {
		t.Error("containers of the deleted pod still run")
	}

	// A pod left running when Run returns keeps running.
	if _, err := h.client.CoreV1().Pods("default").Create(h.ctx, testPod("stay"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second pod started", func() bool { return len(h.rt.RunningPod("stay")) == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if len(h.rt.RunningPod("stay")) != 1 {
		t.Error("Run stopped pods on return")
	}
	if err := h.k.StopAllPods(h.ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.rt.Running()) != 0 {
		t.Error("StopAllPods left containers running")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
