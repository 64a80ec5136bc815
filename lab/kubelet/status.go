package kubelet

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// mtime is a status timestamp at the API's one-second precision, so a status read back
// compares equal to the one written.
func mtime(t time.Time) metav1.Time { return metav1.NewTime(t.UTC().Truncate(time.Second)) }

// kubeletConditions are the pod conditions the kubelet owns, in the order it reports them.
var kubeletConditions = []corev1.PodConditionType{
	corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady,
}

// containerStatuses renders the state of the given containers.
func (w *podWorker) containerStatuses(pod *corev1.Pod, specs []corev1.Container, states []*ctrState, initDone bool) []corev1.ContainerStatus {
	k := w.k
	out := make([]corev1.ContainerStatus, 0, len(specs))
	for i := range specs {
		spec, c := &specs[i], states[i]
		cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, ImageID: c.imageID, RestartCount: c.restarts,
			ContainerID: k.containerID(c.id), Started: ptr.To(false)}
		last := c.prev
		switch {
		case c.running:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: mtime(c.started)}
			started := k.containerStarted(spec, c.id)
			cs.Started = &started
			cs.Ready = !w.st.terminal && k.containerReady(spec, c.id)
		case c.waiting != nil:
			cs.State.Waiting = c.waiting.DeepCopy()
			if c.cur != nil {
				last = c.cur
			}
		case c.cur != nil:
			cs.State.Terminated = c.cur.DeepCopy()
		default:
			reason := "ContainerCreating"
			if c.isInit && i > 0 || !c.isInit && !initDone {
				reason = "PodInitializing"
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		}
		if last != nil {
			cs.LastTerminationState.Terminated = last.DeepCopy()
		}
		if cs.ImageID == "" && c.id != "" {
			cs.ImageID = spec.Image
		}
		out = append(out, cs)
	}
	return out
}

// initDone reports whether every init container completed successfully.
func (s *podState) initDone() bool {
	for _, c := range s.inits {
		if c.running || c.cur == nil || c.cur.ExitCode != 0 {
			return false
		}
	}
	return true
}

// phase is upstream's getPhase over the current container states.
func (w *podWorker) phase(pod *corev1.Pod) corev1.PodPhase {
	initDone := w.st.initDone()
	inits := w.containerStatuses(pod, pod.Spec.InitContainers, w.st.inits, initDone)
	ctrs := w.containerStatuses(pod, pod.Spec.Containers, w.st.ctrs, initDone)
	return podPhase(pod, inits, ctrs)
}

func podPhase(pod *corev1.Pod, inits, ctrs []corev1.ContainerStatus) corev1.PodPhase {
	pendingInit, failedInit := 0, 0
	for _, s := range inits {
		switch {
		case s.State.Running != nil:
			pendingInit++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			if s.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for _, s := range ctrs {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil:
			if s.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0 || failedInit > 0, waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	default:
		return corev1.PodPending
	}
}

// buildStatus renders the pod status the kubelet reports, keeping conditions it does not own
// (PodScheduled, readiness gates) and transition times of unchanged conditions.
func (w *podWorker) buildStatus(pod *corev1.Pod) corev1.PodStatus {
	k, s := w.k, &w.st
	old := pod.Status
	initDone := s.initDone()
	st := corev1.PodStatus{
		InitContainerStatuses: w.containerStatuses(pod, pod.Spec.InitContainers, s.inits, initDone),
		ContainerStatuses:     w.containerStatuses(pod, pod.Spec.Containers, s.ctrs, initDone),
		QOSClass:              old.QOSClass,
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	if len(st.InitContainerStatuses) == 0 {
		st.InitContainerStatuses = nil
	}
	st.Phase = podPhase(pod, st.InitContainerStatuses, st.ContainerStatuses)
	if s.deleted {
		st.Phase = deletedPhase(st)
	}
	if old.Phase == corev1.PodSucceeded || old.Phase == corev1.PodFailed {
		st.Phase = old.Phase // terminal phases never change
	}
	if k.cfg.NodeIP.IsValid() {
		st.HostIP = k.cfg.NodeIP.String()
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	if s.ip.IsValid() {
		st.PodIP = s.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	} else if old.PodIP != "" {
		st.PodIP, st.PodIPs = old.PodIP, old.PodIPs
	}
	if !s.startTime.IsZero() {
		t := mtime(s.startTime)
		if old.StartTime != nil {
			t = *old.StartTime
		}
		st.StartTime = &t
	}

	now := k.clock.Now()
	var conds []corev1.PodCondition
	add := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		status := corev1.ConditionFalse
		if ok {
			status = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: mtime(now)}
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		conds = append(conds, c)
	}
	add(corev1.PodReadyToStartContainers, s.networkReady && !s.torndown, "", "")
	switch {
	case initDone && (st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed) && len(pod.Spec.InitContainers) > 0:
		add(corev1.PodInitialized, true, "PodCompleted", "")
	case initDone:
		add(corev1.PodInitialized, true, "", "")
	default:
		add(corev1.PodInitialized, false, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete(st.InitContainerStatuses), " ")))
	}
	ready, reason, msg := containersReady(st)
	add(corev1.PodReady, ready && gatesReady(pod, old) == "", pickReason(ready, reason, pod, old), pickMessage(ready, msg, pod, old))
	add(corev1.ContainersReady, ready, reason, msg)
	for _, o := range old.Conditions {
		if !isKubeletCondition(o.Type) {
			conds = append(conds, o)
		}
	}
	st.Conditions = conds
	return st
}

// deletedPhase is the final phase of a pod stopped for deletion: its containers will not run
// again whatever the restart policy, so it succeeded only if all of them exited with 0.
func deletedPhase(st corev1.PodStatus) corev1.PodPhase {
	if len(st.ContainerStatuses) == 0 {
		return st.Phase
	}
	for _, c := range st.ContainerStatuses {
		t := c.State.Terminated
		if t == nil {
			t = c.LastTerminationState.Terminated
		}
		if c.State.Running != nil {
			return st.Phase
		}
		if t == nil || t.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

func incomplete(inits []corev1.ContainerStatus) []string {
	var out []string
	for _, s := range inits {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			out = append(out, s.Name)
		}
	}
	return out
}

// containersReady is upstream's GenerateContainersReadyCondition.
func containersReady(st corev1.PodStatus) (bool, string, string) {
	if st.Phase == corev1.PodSucceeded {
		return false, "PodCompleted", ""
	}
	var unready []string
	for _, c := range st.ContainerStatuses {
		if !c.Ready {
			unready = append(unready, c.Name)
		}
	}
	if len(unready) > 0 {
		return false, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	return true, "", ""
}

// gatesReady returns upstream's message for the first unmet readiness gate, or "".
func gatesReady(pod *corev1.Pod, old corev1.PodStatus) string {
	var missing []string
	for _, g := range pod.Spec.ReadinessGates {
		found := false
		for _, c := range old.Conditions {
			if c.Type == g.ConditionType {
				found = true
				if c.Status != corev1.ConditionTrue {
					missing = append(missing, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, c.Status))
				}
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
		}
	}
	return strings.Join(missing, ", ")
}

func pickReason(ready bool, reason string, pod *corev1.Pod, old corev1.PodStatus) string {
	if ready && gatesReady(pod, old) != "" {
		return "ReadinessGatesNotReady"
	}
	return reason
}

func pickMessage(ready bool, msg string, pod *corev1.Pod, old corev1.PodStatus) string {
	if ready {
		return gatesReady(pod, old)
	}
	return msg
}

func isKubeletCondition(t corev1.PodConditionType) bool {
	for _, c := range kubeletConditions {
		if c == t {
			return true
		}
	}
	return false
}

// writeStatus sends the status through pods/status when it differs from what was last
// written.
func (w *podWorker) writeStatus(ctx context.Context) {
	pod := w.pod
	st := w.buildStatus(pod)
	if w.st.lastWritten != nil && apiequality.Semantic.DeepEqual(*w.st.lastWritten, st) {
		return
	}
	for attempt := 0; attempt < 3; attempt++ {
		p := pod.DeepCopy()
		p.Status = st
		out, err := w.k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err == nil {
			w.st.lastWritten = out.Status.DeepCopy()
			if out.ResourceVersion != "" {
				w.pod = out
			}
			return
		}
		if apierrors.IsNotFound(err) {
			return
		}
		if !apierrors.IsConflict(err) {
			w.k.log.Warn("pod status update failed", "pod", podKey(pod), "err", err)
			return
		}
		fresh, gerr := w.k.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil || fresh.UID != pod.UID {
			return
		}
		pod = fresh
		w.pod = fresh
		st = w.buildStatus(pod)
	}
}

// qosClass is upstream's GetPodQOS (requests and limits of all containers).
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests, limits := map[corev1.ResourceName]bool{}, map[corev1.ResourceName]bool{}
	guaranteed := true
	hasAny := false
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range all {
		for name, q := range c.Resources.Requests {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && !q.IsZero() {
				requests[name] = true
				hasAny = true
			}
		}
		seen := map[corev1.ResourceName]bool{}
		for name, q := range c.Resources.Limits {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && !q.IsZero() {
				limits[name] = true
				seen[name] = true
				hasAny = true
				if r, ok := c.Resources.Requests[name]; ok && r.Cmp(q) != 0 {
					guaranteed = false
				}
			}
		}
		if !seen[corev1.ResourceCPU] || !seen[corev1.ResourceMemory] {
			guaranteed = false
		}
	}
	if !hasAny {
		return corev1.PodQOSBestEffort
	}
	if guaranteed && len(limits) == 2 {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
