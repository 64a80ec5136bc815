package kubelet

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// syncPeriod is how often a pod worker looks at its containers without being told to.
const syncPeriod = time.Second

// podWorker owns one pod: its goroutine is the only one that starts and stops the pod's
// containers (like upstream's pod workers).
type podWorker struct {
	k      *Kubelet
	uid    types.UID
	notify chan struct{}
	done   chan struct{}

	// mu guards everything below; sync holds it for a whole pass.
	mu       sync.Mutex
	pod      *corev1.Pod // the latest object from the API
	gone     bool        // deleted from the API
	finished bool
	st       podState
}

// podChanged hands a pod from the informer to its worker, starting one if needed.
func (k *Kubelet) podChanged(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != k.cfg.NodeName {
		return
	}
	k.mu.Lock()
	w, ok := k.workers[pod.UID]
	if !ok {
		if k.stopping || podFinishedAndClean(pod) {
			k.mu.Unlock()
			return
		}
		w = newPodWorker(k, pod)
		k.workers[pod.UID] = w
		k.mu.Unlock()
		go w.run(ctx)
		return
	}
	k.mu.Unlock()
	w.update(pod, false)
}

// podFinishedAndClean reports a terminal pod that this kubelet has nothing left to do for
// (so a kubelet restart does not resurrect completed pods' workers).
func podFinishedAndClean(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed)
}

// podRemoved tells a pod's worker that the pod is gone from the API.
func (k *Kubelet) podRemoved(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	w := k.workers[pod.UID]
	k.mu.Unlock()
	if w != nil {
		w.update(pod, true)
	}
}

// housekeeping catches deletions the informer may have folded away: a worker whose pod is no
// longer listed is told the pod is gone.
func (k *Kubelet) housekeeping(ctx context.Context) {
	t := k.clock.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		pods, err := k.podLister.List(labels.Everything())
		if err != nil {
			continue
		}
		live := map[types.UID]bool{}
		for _, p := range pods {
			live[p.UID] = true
		}
		k.mu.Lock()
		var gone []*podWorker
		for uid, w := range k.workers {
			if !live[uid] {
				gone = append(gone, w)
			}
		}
		k.mu.Unlock()
		for _, w := range gone {
			w.mu.Lock()
			pod := w.pod
			w.mu.Unlock()
			w.update(pod, true)
		}
		k.backoff.GC()
		k.pullBO.GC()
	}
}

func newPodWorker(k *Kubelet, pod *corev1.Pod) *podWorker {
	w := &podWorker{k: k, uid: pod.UID, pod: pod, notify: make(chan struct{}, 1), done: make(chan struct{})}
	w.st.init(pod)
	return w
}

// update records the newest pod object (or its removal) and wakes the worker.
func (w *podWorker) update(pod *corev1.Pod, gone bool) {
	w.mu.Lock()
	if pod != nil {
		w.pod = pod
	}
	w.gone = w.gone || gone
	w.mu.Unlock()
	w.poke()
}

// poke wakes the worker without blocking.
func (w *podWorker) poke() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// run syncs the pod on every change and every syncPeriod until the pod is finished or ctx
// is done (then the pod's containers keep running).
func (w *podWorker) run(ctx context.Context) {
	defer close(w.done)
	t := w.k.clock.NewTicker(syncPeriod)
	defer t.Stop()
	for {
		if w.sync(ctx) {
			w.k.mu.Lock()
			if w.k.workers[w.uid] == w {
				delete(w.k.workers, w.uid)
			}
			w.k.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-w.notify:
		case <-t.C():
		}
	}
}

// wait blocks until the worker goroutine has returned.
func (w *podWorker) wait() { <-w.done }
