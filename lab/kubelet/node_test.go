package kubelet

import (
	goruntime "runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"
)

func TestRegisterNode(t *testing.T) {
	h := newHarness(t)
	h.k.cfg.ControlPlane = true
	h.k.cfg.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	h.k.cfg.Labels = map[string]string{"topology.kubernetes.io/zone": "lab-a"}
	if err := h.k.registerNode(h.ctx); err != nil {
		t.Fatal(err)
	}
	node, err := h.client.CoreV1().Nodes().Get(h.ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{
		"kubernetes.io/hostname": "node-1", "kubernetes.io/os": "linux", "kubernetes.io/arch": goruntime.GOARCH,
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": goruntime.GOARCH,
		"node-role.kubernetes.io/control-plane": "", "topology.kubernetes.io/zone": "lab-a",
	}
	for k, v := range wantLabels {
		if got, ok := node.Labels[k]; !ok || got != v {
			t.Errorf("label %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if len(node.Spec.Taints) != 1 || node.Spec.Taints[0].Key != "node-role.kubernetes.io/control-plane" || node.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("taints = %v", node.Spec.Taints)
	}
	if node.Spec.PodCIDR != "10.245.1.0/24" || len(node.Spec.PodCIDRs) != 1 {
		t.Errorf("podCIDR = %q %v", node.Spec.PodCIDR, node.Spec.PodCIDRs)
	}
	wantAddrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.31.7.11"}, {Type: corev1.NodeHostName, Address: "node-1"}}
	if len(node.Status.Addresses) != 2 || node.Status.Addresses[0] != wantAddrs[0] || node.Status.Addresses[1] != wantAddrs[1] {
		t.Errorf("addresses = %v, want %v", node.Status.Addresses, wantAddrs)
	}
	if pods := node.Status.Capacity[corev1.ResourcePods]; pods.Value() != 110 {
		t.Errorf("capacity pods = %v", pods.String())
	}
	if cpu := node.Status.Allocatable[corev1.ResourceCPU]; cpu.Value() != int64(goruntime.NumCPU()) {
		t.Errorf("allocatable cpu = %v", cpu.String())
	}
	if mem := node.Status.Capacity[corev1.ResourceMemory]; mem.Value() <= 0 {
		t.Errorf("capacity memory = %v", mem.String())
	}
	if _, ok := node.Status.Capacity[corev1.ResourceEphemeralStorage]; !ok {
		t.Errorf("no ephemeral-storage capacity")
	}
	info := node.Status.NodeInfo
	if info.KubeletVersion != "v1.37.2" || info.KubeProxyVersion != "" || info.ContainerRuntimeVersion != "containerd://1.6.20" ||
		info.OperatingSystem != "linux" || info.Architecture != goruntime.GOARCH || info.KernelVersion == "" || info.OSImage == "" {
		t.Errorf("nodeInfo = %+v", info)
	}
	want := map[corev1.NodeConditionType][2]string{
		corev1.NodeReady:          {"True", "KubeletReady"},
		corev1.NodeMemoryPressure: {"False", "KubeletHasSufficientMemory"},
		corev1.NodeDiskPressure:   {"False", "KubeletHasNoDiskPressure"},
		corev1.NodePIDPressure:    {"False", "KubeletHasSufficientPID"},
	}
	for _, c := range node.Status.Conditions {
		if w, ok := want[c.Type]; ok {
			if string(c.Status) != w[0] || c.Reason != w[1] {
				t.Errorf("condition %s = %s/%s, want %v", c.Type, c.Status, c.Reason, w)
			}
			delete(want, c.Type)
		}
		if c.Type == corev1.NodeReady && c.Message != "kubelet is posting ready status" {
			t.Errorf("Ready message = %q", c.Message)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing conditions %v", want)
	}
	ev := h.events()
	for _, e := range []string{"Normal NodeReady Node node-1 status is now: NodeReady",
		"Normal NodeHasSufficientMemory Node node-1 status is now: NodeHasSufficientMemory",
		"Normal NodeAllocatableEnforced Updated Node Allocatable limit across pods"} {
		if !hasEvent(ev, e) {
			t.Errorf("missing event %q in %q", e, ev)
		}
	}

	// Registering again (a restarted lab) reconciles instead of failing.
	if err := h.k.registerNode(h.ctx); err != nil {
		t.Fatalf("second registration: %v", err)
	}
}

func TestNodeStatusHeartbeat(t *testing.T) {
	h := newHarness(t)
	if err := h.k.registerNode(h.ctx); err != nil {
		t.Fatal(err)
	}
	updates := func() int {
		n := 0
		for _, a := range h.client.Actions() {
			if a.GetVerb() == "update" && a.GetResource().Resource == "nodes" && a.GetSubresource() == "status" {
				n++
			}
		}
		return n
	}
	before := updates()
	h.clock.Step(10 * time.Second)
	if err := h.k.syncNodeStatus(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := updates(); got != before {
		t.Errorf("unchanged status written after 10s (%d writes, want %d)", got, before)
	}
	h.clock.Step(time.Minute)
	if err := h.k.syncNodeStatus(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := updates(); got != before+1 {
		t.Errorf("status not reported at the 1-minute mark (%d writes, want %d)", got, before+1)
	}

	// Lease: created, then renewed with the clock.
	if err := h.k.renewLease(h.ctx); err != nil {
		t.Fatal(err)
	}
	lease, err := h.client.CoordinationV1().Leases("kube-node-lease").Get(h.ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "node-1" || *lease.Spec.LeaseDurationSeconds != 40 || len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].Kind != "Node" {
		t.Errorf("lease = %+v", lease.Spec)
	}
	first := lease.Spec.RenewTime.Time
	h.clock.Step(10 * time.Second)
	if err := h.k.renewLease(h.ctx); err != nil {
		t.Fatal(err)
	}
	lease, _ = h.client.CoordinationV1().Leases("kube-node-lease").Get(h.ctx, "node-1", metav1.GetOptions{})
	if got := lease.Spec.RenewTime.Sub(first); got != 10*time.Second {
		t.Errorf("renewTime advanced %v, want 10s", got)
	}
	_ = k8stesting.Action(nil)
}
