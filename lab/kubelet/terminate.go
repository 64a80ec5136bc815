package kubelet

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// terminate ends a pod that is being deleted (or is already gone from the API): its containers
// get SIGTERM and the grace period, then the network goes, the final status is written and
// the object is deleted for good (grace 0, UID precondition), as kubelet's status manager does.
func (w *podWorker) terminate(ctx context.Context) {
	k, pod := w.k, w.pod
	grace := podGrace(pod)
	k.log.Info("terminating pod", "pod", podKey(pod), "grace", grace, "gone", w.gone)
	w.killAll(ctx, pod, grace)
	for _, c := range w.st.all() {
		k.probes.forget(c.id)
	}
	w.teardownNetwork(ctx, pod)
	if !w.gone {
		w.st.terminal, w.st.deleted = true, true
		w.writeStatus(ctx)
		err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			k.log.Warn("pod delete failed", "pod", podKey(pod), "err", err)
		}
	}
	_ = os.RemoveAll(k.podDir(pod.UID))
	_ = os.RemoveAll(k.logDir(pod))
	k.logIdx.removeDir(k.logDir(pod))
	for _, c := range w.st.all() {
		k.backoff.DeleteEntry(string(pod.UID) + "/" + c.name)
	}
}

// killAll stops every running container of the pod in parallel with grace.
func (w *podWorker) killAll(ctx context.Context, pod *corev1.Pod, grace time.Duration) {
	var wg sync.WaitGroup
	for _, c := range w.st.all() {
		if !c.running {
			continue
		}
		wg.Go(func() { w.killContainer(ctx, pod, c, "", grace) })
	}
	wg.Wait()
}

// stopAll stops the pod for StopAllPods: containers with the pod's grace period, then the
// network; the API object stays.
func (w *podWorker) stopAll(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return nil
	}
	pod := w.pod
	w.killAll(ctx, pod, podGrace(pod))
	if w.st.networkReady && !w.st.torndown && !pod.Spec.HostNetwork {
		if err := w.k.net.TeardownPod(ctx, pod); err != nil {
			return fmt.Errorf("tear down network of pod %s: %w", podKey(pod), err)
		}
		w.st.torndown = true
	}
	return nil
}
