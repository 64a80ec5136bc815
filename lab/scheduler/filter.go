package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Filter reasons, word for word as upstream's plugins report them in FailedScheduling events.
const (
	ReasonUnschedulable  = "node(s) were unschedulable"                                 // NodeUnschedulable
	ReasonNodeName       = "node(s) didn't match the requested node name"               // NodeName
	ReasonTaint          = "node(s) had untolerated taint(s)"                           // TaintToleration
	ReasonNodeAffinity   = "node(s) didn't match Pod's node affinity/selector"          // NodeAffinity
	ReasonNodePorts      = "node(s) didn't have free ports for the requested pod ports" // NodePorts
	ReasonAffinityByName = "node(s) didn't satisfy plugin(s) [NodeAffinity]"            // NodeAffinity PreFilter
	// ReasonAffinityConflict is NodeAffinity's PreFilter message when every term names
	// different nodes in matchFields, so no node can ever match.
	ReasonAffinityConflict = "pod affinity terms conflict"
)

// status is one filter's verdict on one node; resolvable marks failures preemption could fix
// (upstream's Unschedulable, as opposed to UnschedulableAndUnresolvable).
type status struct {
	reason     string
	resolvable bool
}

// nodeInfo is a node with the pods that occupy it (bound, assumed, not terminal).
type nodeInfo struct {
	node *corev1.Node
	pods []*corev1.Pod
	// taints are the node's taints plus the ones its conditions imply (see effectiveTaints).
	taints []corev1.Taint
}

func newNodeInfo(node *corev1.Node, pods []*corev1.Pod) *nodeInfo {
	return &nodeInfo{node: node, pods: pods, taints: effectiveTaints(node)}
}

// conditionTaints maps node conditions to the NoSchedule taints kube-controller-manager's node
// lifecycle controller would add for them (TaintNodesByCondition).
var conditionTaints = []struct {
	condition corev1.NodeConditionType
	status    corev1.ConditionStatus
	key       string
}{
	{corev1.NodeReady, corev1.ConditionFalse, corev1.TaintNodeNotReady},
	{corev1.NodeReady, corev1.ConditionUnknown, corev1.TaintNodeUnreachable},
	{corev1.NodeMemoryPressure, corev1.ConditionTrue, corev1.TaintNodeMemoryPressure},
	{corev1.NodeDiskPressure, corev1.ConditionTrue, corev1.TaintNodeDiskPressure},
	{corev1.NodePIDPressure, corev1.ConditionTrue, corev1.TaintNodePIDPressure},
	{corev1.NodeNetworkUnavailable, corev1.ConditionTrue, corev1.TaintNodeNetworkUnavailable},
}

// effectiveTaints returns the node's taints plus those its conditions imply. The lab runs no
// node lifecycle controller, so the scheduler applies the same rule itself: a node that is
// not Ready (or has not reported Ready yet) is treated as carrying
// node.kubernetes.io/not-ready:NoSchedule, which only pods that tolerate it may ignore.
func effectiveTaints(node *corev1.Node) []corev1.Taint {
	taints := slices.Clone(node.Spec.Taints)
	has := func(key string) bool {
		return slices.ContainsFunc(taints, func(t corev1.Taint) bool {
			return t.Key == key && t.Effect == corev1.TaintEffectNoSchedule
		})
	}
	add := func(key string) {
		if !has(key) {
			taints = append(taints, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	ready := corev1.ConditionStatus("")
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status
		}
		for _, ct := range conditionTaints {
			if c.Type == ct.condition && c.Status == ct.status {
				add(ct.key)
			}
		}
	}
	if ready == "" {
		add(corev1.TaintNodeNotReady)
	}
	return taints
}

// filterFunc is one filter plugin: nil means the node fits.
type filterFunc func(pod *corev1.Pod, ni *nodeInfo) *status

// filters run in upstream's default plugin order; the first failure is the node's reason.
var filters = []filterFunc{
	filterUnschedulable,
	filterNodeName,
	filterTaints,
	filterNodeAffinity,
	filterNodePorts,
}

// filterUnschedulable is NodeUnschedulable: cordoned nodes take only pods that tolerate
// node.kubernetes.io/unschedulable:NoSchedule.
func filterUnschedulable(pod *corev1.Pod, ni *nodeInfo) *status {
	if !ni.node.Spec.Unschedulable {
		return nil
	}
	taint := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	for i := range pod.Spec.Tolerations {
		if pod.Spec.Tolerations[i].ToleratesTaint(klog.Background(), &taint, false) {
			return nil
		}
	}
	return &status{reason: ReasonUnschedulable}
}

// filterNodeName is NodeName. Pods the scheduler sees have no spec.nodeName (those that do are
// already bound), so it only matters for completeness and tests.
func filterNodeName(pod *corev1.Pod, ni *nodeInfo) *status {
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != ni.node.Name {
		return &status{reason: ReasonNodeName}
	}
	return nil
}

// filterTaints is TaintToleration: every NoSchedule and NoExecute taint must be tolerated.
func filterTaints(pod *corev1.Pod, ni *nodeInfo) *status {
	if _, bad := untoleratedTaint(ni.taints, pod.Spec.Tolerations); bad {
		return &status{reason: ReasonTaint}
	}
	return nil
}

// untoleratedTaint returns the first NoSchedule/NoExecute taint no toleration matches.
func untoleratedTaint(taints []corev1.Taint, tolerations []corev1.Toleration) (corev1.Taint, bool) {
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(tolerations, t) {
			return *t, true
		}
	}
	return corev1.Taint{}, false
}

func tolerates(tolerations []corev1.Toleration, t *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Background(), t, false) {
			return true
		}
	}
	return false
}

// filterNodeAffinity is NodeAffinity: spec.nodeSelector and required node affinity
// (matchExpressions on labels, matchFields on metadata.name).
func filterNodeAffinity(pod *corev1.Pod, ni *nodeInfo) *status {
	ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(ni.node)
	if err != nil || !ok {
		return &status{reason: ReasonNodeAffinity}
	}
	return nil
}

// affinityNodeNames is NodeAffinity's PreFilter: when every required term pins
// metadata.name (the form the DaemonSet controller writes), only the named nodes are
// candidates. nil means every node; an empty set means the terms contradict each other.
func affinityNodeNames(pod *corev1.Pod) sets.Set[string] {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	var names sets.Set[string]
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		var termNames sets.Set[string]
		for _, r := range term.MatchFields {
			if r.Key != metav1.ObjectNameField || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			if termNames == nil {
				termNames = sets.New(r.Values...)
			} else {
				termNames = termNames.Intersection(sets.New(r.Values...))
			}
		}
		if termNames == nil {
			return nil // this term admits nodes of any name, and terms are ORed
		}
		names = names.Union(termNames)
	}
	return names
}

// hostPort is one host port a container asks for, normalised like upstream's HostPortInfo.
type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

func (a hostPort) conflicts(b hostPort) bool {
	if a.port != b.port || a.protocol != b.protocol {
		return false
	}
	return a.ip == b.ip || a.ip == "0.0.0.0" || b.ip == "0.0.0.0"
}

// hostPorts lists the host ports of the pod's containers and restartable init containers.
func hostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container, onlySidecars bool) {
		for _, c := range cs {
			if onlySidecars && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
				if hp.ip == "" || hp.ip == "::" {
					hp.ip = "0.0.0.0"
				}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers, true)
	add(pod.Spec.Containers, false)
	return out
}

// filterNodePorts is NodePorts: a host port (per IP and protocol) can be used once per node.
func filterNodePorts(pod *corev1.Pod, ni *nodeInfo) *status {
	want := hostPorts(pod)
	if len(want) == 0 {
		return nil
	}
	for _, other := range ni.pods {
		for _, used := range hostPorts(other) {
			for _, w := range want {
				if w.conflicts(used) {
					return &status{reason: ReasonNodePorts, resolvable: true}
				}
			}
		}
	}
	return nil
}

// runFilters returns the nodes the pod fits and, for the others, why not.
func runFilters(pod *corev1.Pod, nodes []*nodeInfo) (feasible []*nodeInfo, failed map[string]*status) {
	failed = map[string]*status{}
	for _, ni := range nodes {
		var st *status
		for _, f := range filters {
			if st = f(pod, ni); st != nil {
				break
			}
		}
		if st != nil {
			failed[ni.node.Name] = st
			continue
		}
		feasible = append(feasible, ni)
	}
	return feasible, failed
}
