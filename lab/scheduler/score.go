package scheduler

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// score is what ranks feasible nodes; lower sorts first, field by field.
type score struct {
	node string
	// preferNoSchedule counts PreferNoSchedule taints the pod does not tolerate (TaintToleration score).
	preferNoSchedule int
	// affinity is the summed weight of matching preferred node-affinity terms (higher is better).
	affinity int64
	// siblings counts pods of the same owner, or selected by the same Service, on the node.
	siblings int
	// pods counts all pods on the node.
	pods int
}

// compareScores orders nodes: fewest untolerated PreferNoSchedule taints, highest preferred
// affinity, fewest siblings (spreading a workload), fewest pods, then by name, so equal
// nodes are chosen in a fixed order.
func compareScores(a, b score) int {
	return cmp.Or(
		cmp.Compare(a.preferNoSchedule, b.preferNoSchedule),
		cmp.Compare(b.affinity, a.affinity),
		cmp.Compare(a.siblings, b.siblings),
		cmp.Compare(a.pods, b.pods),
		cmp.Compare(a.node, b.node),
	)
}

// siblingMatcher decides whether another pod belongs to the same workload as the pod being
// scheduled: the same controller (ReplicaSet, DaemonSet, ...) or a Service selecting both, as
// upstream's selector spreading does.
type siblingMatcher struct {
	namespace  string
	controller *metav1.OwnerReference
	selectors  []labels.Selector
}

func newSiblingMatcher(pod *corev1.Pod, services []*corev1.Service) siblingMatcher {
	m := siblingMatcher{namespace: pod.Namespace, controller: metav1.GetControllerOf(pod)}
	for _, svc := range services {
		if svc.Namespace != pod.Namespace || len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		if sel.Matches(labels.Set(pod.Labels)) {
			m.selectors = append(m.selectors, sel)
		}
	}
	return m
}

func (m siblingMatcher) matches(other *corev1.Pod) bool {
	if other.Namespace != m.namespace {
		return false
	}
	if m.controller != nil {
		if ref := metav1.GetControllerOf(other); ref != nil && ref.UID == m.controller.UID {
			return true
		}
	}
	for _, sel := range m.selectors {
		if sel.Matches(labels.Set(other.Labels)) {
			return true
		}
	}
	return false
}

// scoreNodes ranks the feasible nodes for pod, best first.
func scoreNodes(pod *corev1.Pod, feasible []*nodeInfo, services []*corev1.Service) []score {
	siblings := newSiblingMatcher(pod, services)
	var preferred *nodeaffinity.PreferredSchedulingTerms
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		// Invalid terms were rejected by API validation; on error the preference is ignored.
		preferred, _ = nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	scores := make([]score, 0, len(feasible))
	for _, ni := range feasible {
		s := score{node: ni.node.Name, pods: len(ni.pods)}
		for i := range ni.taints {
			t := &ni.taints[i]
			if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(pod.Spec.Tolerations, t) {
				s.preferNoSchedule++
			}
		}
		if preferred != nil {
			s.affinity = preferred.Score(ni.node)
		}
		for _, other := range ni.pods {
			if siblings.matches(other) {
				s.siblings++
			}
		}
		scores = append(scores, s)
	}
	slices.SortFunc(scores, compareScores)
	return scores
}
