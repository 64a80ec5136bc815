package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// maxMessageLength matches upstream's cap on event and condition messages.
const maxMessageLength = 1024

// Decision is the outcome of scheduling one pod against a set of nodes.
type Decision struct {
	// Node is the chosen node; empty when the pod fits nowhere.
	Node string
	// Err explains why the pod fits no node (a *FitError, or the no-nodes error).
	Err error
}

// errNoNodes is upstream's ErrNoNodesAvailable.
var errNoNodes = errors.New(noNodesMessage)

// Schedule picks a node for pod among nodes, given the pods already placed (bound or assumed)
// and the Services used to find the pod's siblings. It is pure: no API calls.
func Schedule(pod *corev1.Pod, nodes []*corev1.Node, placed []*corev1.Pod, services []*corev1.Service) Decision {
	if len(nodes) == 0 {
		return Decision{Err: errNoNodes}
	}
	byNode := map[string][]*corev1.Pod{}
	seen := map[string]bool{podKey(pod): true}
	for _, p := range placed {
		// A pod may appear twice (bound in the cache and still assumed): count it once.
		if !occupiesNode(p) || seen[podKey(p)] {
			continue
		}
		seen[podKey(p)] = true
		byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
	}
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })

	failed := map[string]*status{}
	candidates := make([]*nodeInfo, 0, len(sorted))
	names := affinityNodeNames(pod)
	if names != nil && names.Len() == 0 {
		fe := newFitError(pod, len(sorted), nil)
		fe.PreFilterMsg = ReasonAffinityConflict
		for _, n := range sorted {
			fe.Statuses[n.Name] = ReasonAffinityConflict
		}
		return Decision{Err: fe}
	}
	for _, n := range sorted {
		if names != nil && !names.Has(n.Name) {
			failed[n.Name] = &status{reason: ReasonAffinityByName}
			continue
		}
		candidates = append(candidates, newNodeInfo(n, byNode[n.Name]))
	}
	feasible, filterFailed := runFilters(pod, candidates)
	for k, v := range filterFailed {
		failed[k] = v
	}
	if len(feasible) == 0 {
		return Decision{Err: newFitError(pod, len(sorted), failed)}
	}
	return Decision{Node: scoreNodes(pod, feasible, services)[0].node}
}

// scheduleOne runs one scheduling cycle for the pod at key; an error requeues it with back-off.
func (s *Scheduler) scheduleOne(ctx context.Context, key string) error {
	s.beginAttempt(key)
	ns, name, _ := strings.Cut(key, "/")
	pod, err := s.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		s.unpark(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get pod %s: %w", key, err)
	}
	if !responsible(pod) || s.isAssumed(pod) {
		s.unpark(key)
		return nil
	}
	nodes, err := s.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	pods, err := s.podLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	services, err := s.serviceLister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	placed := append(pods, s.assumedPods()...)

	d := Schedule(pod, nodes, placed, services)
	if d.Err != nil {
		return s.unschedulableFailure(ctx, pod, d.Err)
	}
	return s.bind(ctx, pod, d.Node)
}

// bind assumes the pod on node, then creates its pods/binding subresource.
func (s *Scheduler) bind(ctx context.Context, pod *corev1.Pod, node string) error {
	key := podKey(pod)
	s.assume(pod, node)
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err != nil {
		s.mu.Lock()
		delete(s.assumed, key)
		s.mu.Unlock()
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Deleted, replaced or bound by someone else meanwhile: nothing left to do.
			s.log.Info("pod no longer needs binding", "pod", key, "node", node, "err", err)
			return nil
		}
		s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "%s",
			truncate(fmt.Sprintf("Binding rejected: %v", err)))
		return fmt.Errorf("bind %s to %s: %w", key, node, err)
	}
	s.unpark(key)
	s.log.Info("pod scheduled", "pod", key, "node", node)
	s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled",
		"Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	return nil
}

// unschedulableFailure parks the pod, records FailedScheduling and sets PodScheduled=False
// with reason Unschedulable, as kube-scheduler does.
func (s *Scheduler) unschedulableFailure(ctx context.Context, pod *corev1.Pod, cause error) error {
	msg := truncate(cause.Error())
	s.park(podKey(pod))
	s.log.Info("pod is unschedulable", "pod", podKey(pod), "reason", msg)
	s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "%s", msg)
	cond := corev1.PodCondition{
		Type:    corev1.PodScheduled,
		Status:  corev1.ConditionFalse,
		Reason:  corev1.PodReasonUnschedulable,
		Message: msg,
	}
	if err := s.setCondition(ctx, pod, cond); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		// The pod stays parked; the condition is informational, so log instead of retrying hot.
		s.log.Warn("cannot set PodScheduled condition", "pod", podKey(pod), "err", err)
	}
	return nil
}

// setCondition patches the pod's status with cond unless the pod already has it.
func (s *Scheduler) setCondition(ctx context.Context, pod *corev1.Pod, cond corev1.PodCondition) error {
	now := metav1.NewTime(s.now())
	cond.LastTransitionTime = now
	for _, c := range pod.Status.Conditions {
		if c.Type != cond.Type {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return nil
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   map[string]any{"conditions": []corev1.PodCondition{cond}},
	})
	if err != nil {
		return fmt.Errorf("encode status patch: %w", err)
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status of pod %s: %w", podKey(pod), err)
	}
	return nil
}

func truncate(msg string) string {
	if len(msg) <= maxMessageLength {
		return msg
	}
	return msg[:maxMessageLength-3] + "..."
}
