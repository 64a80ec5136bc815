package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Preemption reasons upstream's DefaultPreemption reports per node. The lab does not
// preempt, so a node whose failure preemption could fix reports "no victims".
const (
	preemptionNotHelpful = "Preemption is not helpful for scheduling"
	preemptionNoVictims  = "No preemption victims found for incoming pod"
	preemptionNever      = "not eligible due to preemptionPolicy=Never."
)

// noNodesMessage is upstream's ErrNoNodesAvailable text, used when the cluster has no nodes.
const noNodesMessage = "no nodes available to schedule pods"

// FitError says why a pod fits no node, per node.
type FitError struct {
	// NumAllNodes is how many nodes were considered.
	NumAllNodes int
	// PreFilterMsg is set when the pod was rejected before looking at any node.
	PreFilterMsg string
	// Statuses maps each rejected node to its reason.
	Statuses map[string]string
	// resolvable marks nodes whose failure preemption could in principle fix.
	resolvable map[string]bool
	// preemptionNever records spec.preemptionPolicy: Never.
	preemptionNever bool
}

// Error renders the message kube-scheduler puts in FailedScheduling events and the
// PodScheduled condition, e.g.
//
//	0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match
//	Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not
//	helpful for scheduling.
func (f *FitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", f.NumAllNodes)
	if f.PreFilterMsg != "" {
		fmt.Fprintf(&b, " %s.", f.PreFilterMsg)
	} else if h := histogram(f.Statuses); h != "" {
		fmt.Fprintf(&b, " %s.", h)
	}
	b.WriteString(" preemption: ")
	if f.preemptionNever {
		b.WriteString(preemptionNever)
		return b.String()
	}
	pre := map[string]string{}
	for node := range f.Statuses {
		pre[node] = preemptionNotHelpful
		if f.resolvable[node] {
			pre[node] = preemptionNoVictims
		}
	}
	fmt.Fprintf(&b, "0/%d nodes are available: %s.", f.NumAllNodes, histogram(pre))
	return b.String()
}

// histogram counts identical reasons and renders them sorted: "1 a, 2 b".
func histogram(byNode map[string]string) string {
	counts := map[string]int{}
	for _, r := range byNode {
		counts[r]++
	}
	parts := make([]string, 0, len(counts))
	for r, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// newFitError builds the FitError for pod from the filter results over all nodes.
func newFitError(pod *corev1.Pod, numNodes int, failed map[string]*status) *FitError {
	f := &FitError{
		NumAllNodes: numNodes,
		Statuses:    make(map[string]string, len(failed)),
		resolvable:  map[string]bool{},
	}
	for node, st := range failed {
		f.Statuses[node] = st.reason
		f.resolvable[node] = st.resolvable
	}
	if p := pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		f.preemptionNever = true
	}
	return f
}
