package kubelet

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/runtime"
)

// sync runs one pass over the pod: network, volumes, containers, status. It returns true when
// the pod is finished for this kubelet (terminated and removed).
func (w *podWorker) sync(ctx context.Context) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return true
	}
	pod := w.pod
	if w.gone || pod.DeletionTimestamp != nil {
		w.terminate(ctx)
		w.finished = true
		return true
	}
	w.k.mu.Lock()
	stopping := w.k.stopping
	w.k.mu.Unlock()
	if stopping {
		return false
	}
	w.syncRunning(ctx, pod)
	w.writeStatus(ctx)
	return false
}

// syncRunning drives a live pod toward its spec.
func (w *podWorker) syncRunning(ctx context.Context, pod *corev1.Pod) {
	k, s := w.k, &w.st
	if s.startTime.IsZero() {
		s.startTime = k.clock.Now()
	}
	w.refreshContainers(ctx, pod)
	if s.terminal {
		w.releaseTerminal(ctx, pod)
		return
	}
	if !s.networkReady {
		if !w.setupNetwork(ctx, pod) {
			return
		}
	}
	if !s.adopted {
		w.adoptRunning(ctx, pod)
	}
	if err := w.prepareVolumes(ctx, pod); err != nil {
		return
	}
	if w.syncInitContainers(ctx, pod) {
		for i := range pod.Spec.Containers {
			w.syncContainer(ctx, pod, &pod.Spec.Containers[i], s.ctrs[i])
		}
	}
	if phase := w.phase(pod); phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		s.terminal = true
		w.releaseTerminal(ctx, pod)
	}
}

// adoptRunning resumes watching containers a previous kubelet started (found running in the
// pod status and in the runtime): their probes and log timestamps.
func (w *podWorker) adoptRunning(ctx context.Context, pod *corev1.Pod) {
	w.st.adopted = true
	for i := range pod.Spec.Containers {
		c := w.st.ctrs[i]
		if c.running && len(c.probers) == 0 {
			w.k.logIdx.start(c.id, w.k.logPath(pod, c.name, c.restarts))
			w.startProbers(ctx, pod, &pod.Spec.Containers[i], c)
		}
	}
}

// setupNetwork creates the pod's sandbox: its network namespace and address.
func (w *podWorker) setupNetwork(ctx context.Context, pod *corev1.Pod) bool {
	k, s := w.k, &w.st
	if pod.Spec.HostNetwork {
		s.netns, s.ip = k.cfg.NodeNetNSPath, k.cfg.NodeIP
	} else {
		netns, ip, err := k.net.SetupPod(ctx, pod)
		if err != nil {
			msg := fmt.Sprintf("Failed to create pod sandbox: %v", err)
			if s.sandboxErr != msg {
				k.rec.Event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", msg)
				s.sandboxErr = msg
			}
			k.log.Warn("pod network setup failed", "pod", podKey(pod), "err", err)
			return false
		}
		s.netns, s.ip = netns, ip
	}
	s.sandboxErr = ""
	s.networkReady = true
	return true
}

// releaseTerminal frees what a finished pod no longer needs: probes and its network (the
// status keeps its IP, as upstream does).
func (w *podWorker) releaseTerminal(ctx context.Context, pod *corev1.Pod) {
	for _, c := range w.st.all() {
		w.stopProbers(c)
	}
	w.teardownNetwork(ctx, pod)
}

func (w *podWorker) teardownNetwork(ctx context.Context, pod *corev1.Pod) {
	s := &w.st
	if s.torndown || pod.Spec.HostNetwork {
		s.torndown = true
		return
	}
	if err := w.k.net.TeardownPod(ctx, pod); err != nil {
		w.k.log.Warn("pod network teardown failed", "pod", podKey(pod), "err", err)
		return
	}
	s.torndown = true
}

// refreshContainers asks the runtime about every running container, records exits, and kills
// containers whose liveness or startup probe failed.
func (w *podWorker) refreshContainers(ctx context.Context, pod *corev1.Pod) {
	for _, c := range w.st.all() {
		if !c.running {
			continue
		}
		if reason := w.k.probes.killReason(c.id); reason != "" && !w.st.terminal {
			w.killContainer(ctx, pod, c, reason, probeGrace(pod, containerSpec(pod, c.name), reason))
			continue
		}
		st, err := w.k.rt.Status(ctx, c.id)
		switch {
		case errors.Is(err, runtime.ErrNotFound):
			w.recordExit(ctx, c, runtime.Status{State: runtime.StateExited, ExitCode: 137, Reason: "ContainerStatusUnknown",
				FinishedAt: w.k.clock.Now()}, "The container could not be located when the pod was terminated")
		case err != nil:
			w.k.log.Warn("container status failed", "pod", podKey(pod), "container", c.name, "err", err)
		case st.State == runtime.StateExited:
			w.recordExit(ctx, c, st, "")
		}
	}
}

// recordExit notes that c's running instance has exited and removes it from the runtime (its
// log file stays for `kubectl logs --previous`).
func (w *podWorker) recordExit(ctx context.Context, c *ctrState, st runtime.Status, message string) {
	w.stopProbers(c)
	reason := st.Reason
	if reason == "" {
		reason = "Error"
		if st.ExitCode == 0 {
			reason = "Completed"
		}
	}
	started := c.started
	if !st.StartedAt.IsZero() {
		started = st.StartedAt
	}
	finished := st.FinishedAt
	if finished.IsZero() {
		finished = w.k.clock.Now()
	}
	c.cur = &corev1.ContainerStateTerminated{
		ExitCode: int32(st.ExitCode), Reason: reason, Message: message,
		StartedAt: mtime(started), FinishedAt: mtime(finished),
		ContainerID: w.k.containerID(c.id),
	}
	c.running = false
	w.k.logIdx.finish(c.id)
	w.k.probes.forget(c.id)
	if err := w.k.rt.Remove(ctx, c.id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		w.k.log.Warn("container remove failed", "container", c.name, "id", c.id, "err", err)
	}
}

// syncInitContainers runs init containers one at a time, in order; it returns true once all
// have completed successfully.
func (w *podWorker) syncInitContainers(ctx context.Context, pod *corev1.Pod) bool {
	for i := range pod.Spec.InitContainers {
		c := w.st.inits[i]
		if c.cur != nil && c.cur.ExitCode == 0 && !c.running {
			continue
		}
		if c.running {
			return false
		}
		w.syncContainer(ctx, pod, &pod.Spec.InitContainers[i], c)
		return false
	}
	return true
}

// syncContainer starts a container that should run: the first time, or again after it exited
// when the restart policy says so (with crash-loop back-off).
func (w *podWorker) syncContainer(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *ctrState) {
	if c.running && c.image != "" && c.image != spec.Image {
		// The only container field a pod update can change: restart with the new image.
		w.killContainer(ctx, pod, c, "definition", podGrace(pod))
		w.startContainer(ctx, pod, spec, c)
		return
	}
	if c.running {
		return
	}
	if c.cur != nil {
		if !shouldRestart(pod, c) {
			c.waiting = nil
			return
		}
		if w.inCrashBackOff(pod, c) {
			return
		}
	}
	w.startContainer(ctx, pod, spec, c)
}

// shouldRestart applies the pod's restartPolicy to c's last exit (init containers restart on
// failure unless the policy is Never, as upstream).
func shouldRestart(pod *corev1.Pod, c *ctrState) bool {
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return c.cur.ExitCode != 0
	default:
		if c.isInit {
			return c.cur.ExitCode != 0
		}
		return true
	}
}

// inCrashBackOff reports (and shows as CrashLoopBackOff) a container that must wait before its
// next restart: the first restart is immediate, then 10s, 20s, 40s ... up to 5m, measured
// from the last exit, like upstream's doBackOff.
func (w *podWorker) inCrashBackOff(pod *corev1.Pod, c *ctrState) bool {
	k := w.k
	key := string(pod.UID) + "/" + c.name
	finished := c.cur.FinishedAt.Time
	if k.backoff.IsInBackOffSince(key, finished) {
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", k.backoff.Get(key), c.name, formatPod(pod))
		c.waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: msg}
		if c.backoffFor != c.id {
			c.backoffFor = c.id
			k.rec.Event(containerRef(pod, c.name, c.isInit), corev1.EventTypeWarning, "BackOff",
				fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.name, formatPod(pod)))
		}
		return true
	}
	k.backoff.Next(key, finished)
	return false
}

// formatPod is upstream's format.Pod: name_namespace(uid).
func formatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
