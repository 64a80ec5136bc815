package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestScheduleFilters(t *testing.T) {
	never := corev1.PreemptNever
	tests := []struct {
		name     string
		pod      *corev1.Pod
		nodes    []*corev1.Node
		placed   []*corev1.Pod
		wantNode string
		wantErr  string
	}{
		{
			name:    "no nodes",
			pod:     pod("web"),
			wantErr: "no nodes available to schedule pods",
		},
		{
			name:     "fits the only ready node",
			pod:      pod("web"),
			nodes:    []*corev1.Node{node("node-1", withReady(corev1.ConditionFalse)), node("node-2")},
			wantNode: "node-2",
		},
		{
			name:  "not-ready, unreachable and unreported nodes count as tainted",
			pod:   pod("web"),
			nodes: []*corev1.Node{node("a", withReady(corev1.ConditionFalse)), node("b", withReady(corev1.ConditionUnknown)), node("c", withoutConditions)},
			wantErr: "0/3 nodes are available: 3 node(s) had untolerated taint(s). " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:     "tolerating not-ready admits a not-ready node",
			pod:      pod("ds", tolerate(corev1.TaintNodeNotReady, corev1.TolerationOpExists, "")),
			nodes:    []*corev1.Node{node("a", withReady(corev1.ConditionFalse))},
			wantNode: "a",
		},
		{
			name: "upstream example: taint plus selector",
			pod:  pod("web", selector("disktype", "ssd")),
			nodes: []*corev1.Node{
				node("control-plane", withLabel("disktype", "ssd"), withTaint("node-role.kubernetes.io/control-plane", "", corev1.TaintEffectNoSchedule)),
				node("worker-1"), node("worker-2"),
			},
			wantErr: "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match Pod's node affinity/selector. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:     "nodeSelector picks the labelled node",
			pod:      pod("web", selector("disktype", "ssd")),
			nodes:    []*corev1.Node{node("a"), node("b", withLabel("disktype", "ssd")), node("c")},
			wantNode: "b",
		},
		{
			name: "NoExecute taint filters, PreferNoSchedule does not",
			pod:  pod("web"),
			nodes: []*corev1.Node{
				node("a", withTaint("dedicated", "db", corev1.TaintEffectNoExecute)),
				node("b", withTaint("dedicated", "db", corev1.TaintEffectPreferNoSchedule)),
			},
			wantNode: "b",
		},
		{
			name:     "toleration with operator Exists and no key tolerates everything",
			pod:      pod("kube-proxy", tolerate("", corev1.TolerationOpExists, "")),
			nodes:    []*corev1.Node{node("a", withReady(corev1.ConditionFalse), withTaint("node-role.kubernetes.io/control-plane", "", corev1.TaintEffectNoSchedule))},
			wantNode: "a",
		},
		{
			name:  "cordoned node",
			pod:   pod("web"),
			nodes: []*corev1.Node{node("a", cordoned), node("b", withLabel("zone", "x"))},
			// b is fine, a is cordoned
			wantNode: "b",
		},
		{
			name:  "all cordoned",
			pod:   pod("web"),
			nodes: []*corev1.Node{node("a", cordoned), node("b", cordoned)},
			wantErr: "0/2 nodes are available: 2 node(s) were unschedulable. " +
				"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			name:     "cordoned node admits pods tolerating unschedulable",
			pod:      pod("ds", tolerate(corev1.TaintNodeUnschedulable, corev1.TolerationOpExists, corev1.TaintEffectNoSchedule)),
			nodes:    []*corev1.Node{node("a", cordoned)},
			wantNode: "a",
		},
		{
			name: "required affinity with matchExpressions",
			pod: pod("web", requiredAffinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b", "c"}},
				{Key: "gpu", Operator: corev1.NodeSelectorOpDoesNotExist},
			}})),
			nodes:    []*corev1.Node{node("n1", withLabel("zone", "a")), node("n2", withLabel("zone", "b"), withLabel("gpu", "1")), node("n3", withLabel("zone", "c"))},
			wantNode: "n3",
		},
		{
			name: "required affinity terms are ORed",
			pod: pod("web", requiredAffinity(
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"nowhere"}}}},
				corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n1"}}}},
			)),
			nodes:    []*corev1.Node{node("n1"), node("n2")},
			wantNode: "n2",
		},
		{
			name:     "DaemonSet pod pinned by metadata.name",
			pod:      pod("ds-x", requiredAffinity(daemonSetAffinity("n2"))),
			nodes:    []*corev1.Node{node("n1"), node("n2"), node("n3")},
			wantNode: "n2",
		},
		{
			name:  "DaemonSet pod pinned to a not-ready node",
			pod:   pod("ds-x", requiredAffinity(daemonSetAffinity("n2"))),
			nodes: []*corev1.Node{node("n1"), node("n2", withReady(corev1.ConditionFalse)), node("n3")},
			wantErr: "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name: "contradicting metadata.name terms",
			pod: pod("x", requiredAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}},
				{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"n2"}},
			}})),
			nodes: []*corev1.Node{node("n1"), node("n2")},
			wantErr: "0/2 nodes are available: pod affinity terms conflict. " +
				"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			name:     "host port conflict moves the pod elsewhere",
			pod:      pod("web", hostPortOn(8080, "", "")),
			nodes:    []*corev1.Node{node("a"), node("b")},
			placed:   []*corev1.Pod{pod("old", onNode("a"), hostPortOn(8080, corev1.ProtocolTCP, "0.0.0.0"))},
			wantNode: "b",
		},
		{
			name:   "host port conflicts everywhere; preemption would look for victims",
			pod:    pod("web", hostPortOn(8080, "", "")),
			nodes:  []*corev1.Node{node("a"), node("b", withTaint("k", "v", corev1.TaintEffectNoSchedule))},
			placed: []*corev1.Pod{pod("old", onNode("a"), hostPortOn(8080, corev1.ProtocolTCP, "172.30.0.11"))},
			wantErr: "0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) had untolerated taint(s). " +
				"preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
		},
		{
			name:     "same port, other protocol does not conflict",
			pod:      pod("dns", hostPortOn(53, corev1.ProtocolUDP, "")),
			nodes:    []*corev1.Node{node("a")},
			placed:   []*corev1.Pod{pod("old", onNode("a"), hostPortOn(53, corev1.ProtocolTCP, ""))},
			wantNode: "a",
		},
		{
			name:     "same port on different specific IPs does not conflict",
			pod:      pod("x", hostPortOn(80, "", "127.0.0.1")),
			nodes:    []*corev1.Node{node("a")},
			placed:   []*corev1.Pod{pod("old", onNode("a"), hostPortOn(80, "", "172.30.0.11"))},
			wantNode: "a",
		},
		{
			name:     "finished pods free their host ports",
			pod:      pod("web", hostPortOn(8080, "", "")),
			nodes:    []*corev1.Node{node("a")},
			placed:   []*corev1.Pod{pod("old", onNode("a"), hostPortOn(8080, "", ""), phase(corev1.PodSucceeded))},
			wantNode: "a",
		},
		{
			name:  "preemptionPolicy Never",
			pod:   pod("web", selector("x", "y"), func(p *corev1.Pod) { p.Spec.PreemptionPolicy = &never }),
			nodes: []*corev1.Node{node("a")},
			wantErr: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. " +
				"preemption: not eligible due to preemptionPolicy=Never.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Schedule(tt.pod, tt.nodes, tt.placed, nil)
			gotErr := ""
			if d.Err != nil {
				gotErr = d.Err.Error()
			}
			if d.Node != tt.wantNode || gotErr != tt.wantErr {
				t.Errorf("Schedule = node %q, err %q\nwant node %q, err %q", d.Node, gotErr, tt.wantNode, tt.wantErr)
			}
		})
	}
}

func TestScheduleSpreading(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		nodes    []*corev1.Node
		placed   []*corev1.Pod
		services []*corev1.Service
		wantNode string
	}{
		{
			name:     "empty cluster: first node by name",
			pod:      pod("web-1"),
			nodes:    []*corev1.Node{node("n3"), node("n1"), node("n2")},
			wantNode: "n1",
		},
		{
			name:  "fewest siblings of the same owner wins over fewest pods",
			pod:   pod("web-3", ownedBy("rs1")),
			nodes: []*corev1.Node{node("n1"), node("n2")},
			placed: []*corev1.Pod{
				pod("web-1", onNode("n1"), ownedBy("rs1")),
				pod("other-1", onNode("n2")), pod("other-2", onNode("n2")),
			},
			wantNode: "n2",
		},
		{
			name:  "same sibling count: fewest pods overall",
			pod:   pod("web-3", ownedBy("rs1")),
			nodes: []*corev1.Node{node("n1"), node("n2"), node("n3")},
			placed: []*corev1.Pod{
				pod("web-1", onNode("n1"), ownedBy("rs1")), pod("web-2", onNode("n2"), ownedBy("rs1")),
				pod("other-1", onNode("n1")), pod("other-2", onNode("n3")), pod("other-3", onNode("n3")),
			},
			wantNode: "n3",
		},
		{
			name:  "pods of another owner are not siblings",
			pod:   pod("web-2", ownedBy("rs1")),
			nodes: []*corev1.Node{node("n1"), node("n2")},
			placed: []*corev1.Pod{
				pod("api-1", onNode("n1"), ownedBy("rs2")), pod("api-2", onNode("n2"), ownedBy("rs2")),
				pod("web-1", onNode("n1"), ownedBy("rs1")),
			},
			wantNode: "n2",
		},
		{
			name:  "a Service selecting both makes pods siblings",
			pod:   pod("web-b", labelled("app", "web")),
			nodes: []*corev1.Node{node("n1"), node("n2")},
			placed: []*corev1.Pod{
				pod("web-a", onNode("n1"), labelled("app", "web")),
				pod("x", onNode("n2")), pod("y", onNode("n2")),
			},
			services: []*corev1.Service{svc},
			wantNode: "n2",
		},
		{
			name:  "siblings in another namespace do not count",
			pod:   pod("web-2", ownedBy("rs1")),
			nodes: []*corev1.Node{node("n1"), node("n2")},
			placed: []*corev1.Pod{
				pod("web-1", onNode("n1"), ownedBy("rs1"), func(p *corev1.Pod) { p.Namespace = "other" }),
				pod("x", onNode("n2")),
			},
			wantNode: "n1",
		},
		{
			name:     "untolerated PreferNoSchedule taint is avoided",
			pod:      pod("web"),
			nodes:    []*corev1.Node{node("n1", withTaint("soft", "", corev1.TaintEffectPreferNoSchedule)), node("n2")},
			placed:   []*corev1.Pod{pod("x", onNode("n2")), pod("y", onNode("n2"))},
			wantNode: "n2",
		},
		{
			name: "preferred node affinity",
			pod: pod("web", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
						Weight: 10,
						Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
							{Key: "disktype", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}},
					}},
				}}
			}),
			nodes:    []*corev1.Node{node("n1"), node("n2", withLabel("disktype", "ssd"))},
			placed:   []*corev1.Pod{pod("x", onNode("n2"))},
			wantNode: "n2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Schedule(tt.pod, tt.nodes, tt.placed, tt.services)
			if d.Err != nil || d.Node != tt.wantNode {
				t.Errorf("Schedule = %q, %v; want %q", d.Node, d.Err, tt.wantNode)
			}
		})
	}
}

// TestScheduleSpreadsReplicas places a 4-replica workload one pod at a time, as the scheduler
// does, over a tainted control plane and two workers.
func TestScheduleSpreadsReplicas(t *testing.T) {
	nodes := []*corev1.Node{
		node("svclab-control-plane", withTaint("node-role.kubernetes.io/control-plane", "", corev1.TaintEffectNoSchedule)),
		node("svclab-worker"), node("svclab-worker2"),
	}
	var placed []*corev1.Pod
	var got []string
	for _, name := range []string{"web-a", "web-b", "web-c", "web-d"} {
		p := pod(name, ownedBy("rs1"))
		d := Schedule(p, nodes, placed, nil)
		if d.Err != nil {
			t.Fatalf("%s: %v", name, d.Err)
		}
		p.Spec.NodeName = d.Node
		placed = append(placed, p)
		got = append(got, d.Node)
	}
	want := []string{"svclab-worker", "svclab-worker2", "svclab-worker", "svclab-worker2"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("placements = %v, want %v", got, want)
		}
	}
}

func TestEffectiveTaints(t *testing.T) {
	tests := []struct {
		name string
		node *corev1.Node
		want []string
	}{
		{"ready", node("a"), nil},
		{"not ready", node("a", withReady(corev1.ConditionFalse)), []string{"node.kubernetes.io/not-ready:NoSchedule"}},
		{"unknown", node("a", withReady(corev1.ConditionUnknown)), []string{"node.kubernetes.io/unreachable:NoSchedule"}},
		{"no conditions yet", node("a", withoutConditions), []string{"node.kubernetes.io/not-ready:NoSchedule"}},
		{"not ready, taint already set by a controller", node("a", withReady(corev1.ConditionFalse),
			withTaint(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoSchedule)), []string{"node.kubernetes.io/not-ready:NoSchedule"}},
		{"disk pressure", node("a", func(n *corev1.Node) {
			n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue})
		}), []string{"node.kubernetes.io/disk-pressure:NoSchedule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tn := range effectiveTaints(tt.node) {
				got = append(got, tn.ToString())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("taints = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("taints = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'x'
	}
	if got := truncate(string(long)); len(got) != maxMessageLength || got[len(got)-3:] != "..." {
		t.Errorf("truncate: len %d, tail %q", len(got), got[len(got)-3:])
	}
	if got := truncate("short"); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
}
