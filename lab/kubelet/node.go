package kubelet

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

const (
	// heartbeatPeriod is how often the Lease is renewed and the node status computed.
	heartbeatPeriod = 10 * time.Second
	// statusReportPeriod forces a status write even when nothing changed.
	statusReportPeriod = time.Minute
	leaseDuration      = 40
)

// nodeRef is the event target for the node (upstream uses the node name as UID).
func (k *Kubelet) nodeRef() *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: k.cfg.NodeName, UID: types.UID(k.cfg.NodeName)}
}

func (k *Kubelet) recordNodeEvent(eventType, reason, msg string) {
	k.rec.Event(k.nodeRef(), eventType, reason, msg)
}

// nodeLabels are the labels kubelet (and kubeadm, for the control plane) put on a node.
func (k *Kubelet) nodeLabels() map[string]string {
	l := map[string]string{
		corev1.LabelHostname:      k.cfg.NodeName,
		corev1.LabelOSStable:      goruntime.GOOS,
		corev1.LabelArchStable:    goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
	if k.cfg.ControlPlane {
		l["node-role.kubernetes.io/control-plane"] = ""
		l["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
	}
	for key, v := range k.cfg.Labels {
		l[key] = v
	}
	return l
}

// initialNode is the Node kubelet registers.
func (k *Kubelet) initialNode() *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   k.cfg.NodeName,
			Labels: k.nodeLabels(),
			Annotations: map[string]string{
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				"node.alpha.kubernetes.io/ttl":                           "0",
			},
		},
		Spec: corev1.NodeSpec{Taints: append([]corev1.Taint(nil), k.cfg.Taints...)},
	}
	if k.cfg.PodCIDR.IsValid() {
		n.Spec.PodCIDR = k.cfg.PodCIDR.String()
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	return n
}

// registerNode creates the Node, or reconciles an existing one (labels, podCIDR, taints),
// retrying until it succeeds or ctx ends; then it writes the first status.
func (k *Kubelet) registerNode(ctx context.Context) error {
	nodes := k.client.CoreV1().Nodes()
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		want := k.initialNode()
		_, err := nodes.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			return true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			k.log.Warn("node registration failed", "err", err)
			return false, nil
		}
		have, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		upd := have.DeepCopy()
		if upd.Labels == nil {
			upd.Labels = map[string]string{}
		}
		for key, v := range want.Labels {
			upd.Labels[key] = v
		}
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		for key, v := range want.Annotations {
			upd.Annotations[key] = v
		}
		if upd.Spec.PodCIDR == "" {
			upd.Spec.PodCIDR, upd.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
		}
		for _, t := range want.Spec.Taints {
			if !hasTaint(upd.Spec.Taints, t) {
				upd.Spec.Taints = append(upd.Spec.Taints, t)
			}
		}
		if apiequality.Semantic.DeepEqual(have, upd) {
			return true, nil
		}
		_, err = nodes.Update(ctx, upd, metav1.UpdateOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", k.cfg.NodeName, err)
	}
	if err := k.syncNodeStatus(ctx, true); err != nil {
		k.log.Warn("node status update failed", "err", err)
	}
	k.recordNodeEvent(corev1.EventTypeNormal, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
	return nil
}

func hasTaint(ts []corev1.Taint, t corev1.Taint) bool {
	for _, x := range ts {
		if x.Key == t.Key && x.Effect == t.Effect {
			return true
		}
	}
	return false
}

// heartbeat renews the Lease and the node status every heartbeatPeriod.
func (k *Kubelet) heartbeat(ctx context.Context) {
	t := k.clock.NewTicker(heartbeatPeriod)
	defer t.Stop()
	for {
		if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("lease renewal failed", "err", err)
		}
		if err := k.syncNodeStatus(ctx, false); err != nil && ctx.Err() == nil {
			k.log.Warn("node status update failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// renewLease keeps kube-node-lease/<node> fresh, creating it when missing.
func (k *Kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(k.clock.Now())
	lease, err := leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(k.cfg.NodeName),
				LeaseDurationSeconds: ptr.To[int32](leaseDuration),
				RenewTime:            &now,
			},
		}
		if node, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{}); err == nil {
			lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create lease: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get lease: %w", err)
	}
	lease = lease.DeepCopy()
	lease.Spec.HolderIdentity = ptr.To(k.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDuration)
	lease.Spec.RenewTime = &now
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	return nil
}

// syncNodeStatus computes the node status and writes it when it changed or the last report
// is a minute old (force writes regardless).
func (k *Kubelet) syncNodeStatus(ctx context.Context, force bool) error {
	nodes := k.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node: %w", err)
	}
	now := k.clock.Now()
	st, transitions := k.nodeStatus(ctx, node.Status, now)
	if !force && !nodeStatusChanged(node.Status, st) && now.Sub(lastHeartbeat(node.Status)) < statusReportPeriod {
		return nil
	}
	upd := node.DeepCopy()
	upd.Status = st
	if _, err := nodes.UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update node status: %w", err)
	}
	for _, t := range transitions {
		k.recordNodeEvent(corev1.EventTypeNormal, t, fmt.Sprintf("Node %s status is now: %s", k.cfg.NodeName, t))
	}
	return nil
}

// nodeStatus renders the status and names the condition transitions to report as events.
func (k *Kubelet) nodeStatus(ctx context.Context, old corev1.NodeStatus, now time.Time) (corev1.NodeStatus, []string) {
	capacity := k.capacity()
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       old.Phase,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: k.cfg.NodeIP.String()},
			{Type: corev1.NodeHostName, Address: k.cfg.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               readTrimmed("/etc/machine-id"),
			SystemUUID:              readTrimmed("/sys/class/dmi/id/product_uuid"),
			BootID:                  readTrimmed("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           kernelVersion(),
			OSImage:                 osImage(),
			ContainerRuntimeVersion: k.runtimeVersion(ctx),
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         goruntime.GOOS,
			Architecture:            goruntime.GOARCH,
		},
		Images:          old.Images,
		VolumesInUse:    old.VolumesInUse,
		VolumesAttached: old.VolumesAttached,
		Config:          old.Config,
		RuntimeHandlers: old.RuntimeHandlers,
		Features:        old.Features,
	}
	hb := metav1.NewTime(now)
	var transitions []string
	for _, c := range []struct {
		t      corev1.NodeConditionType
		status corev1.ConditionStatus
		reason string
		msg    string
		event  string
	}{
		{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "NodeHasSufficientMemory"},
		{corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure"},
		{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "NodeHasSufficientPID"},
		{corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status", "NodeReady"},
	} {
		cond := corev1.NodeCondition{Type: c.t, Status: c.status, Reason: c.reason, Message: c.msg,
			LastHeartbeatTime: hb, LastTransitionTime: hb}
		prev := findNodeCondition(old.Conditions, c.t)
		if prev != nil && prev.Status == c.status {
			cond.LastTransitionTime = prev.LastTransitionTime
		} else {
			transitions = append(transitions, c.event)
		}
		st.Conditions = append(st.Conditions, cond)
	}
	// Conditions owned by others (e.g. NetworkUnavailable) stay.
	for _, c := range old.Conditions {
		if findNodeCondition(st.Conditions, c.Type) == nil {
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st, transitions
}

func findNodeCondition(cs []corev1.NodeCondition, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

func lastHeartbeat(st corev1.NodeStatus) time.Time {
	var t time.Time
	for _, c := range st.Conditions {
		if c.LastHeartbeatTime.After(t) {
			t = c.LastHeartbeatTime.Time
		}
	}
	return t
}

// nodeStatusChanged compares two statuses ignoring heartbeat times.
func nodeStatusChanged(a, b corev1.NodeStatus) bool {
	a, b = *a.DeepCopy(), *b.DeepCopy()
	for i := range a.Conditions {
		a.Conditions[i].LastHeartbeatTime = metav1.Time{}
	}
	for i := range b.Conditions {
		b.Conditions[i].LastHeartbeatTime = metav1.Time{}
	}
	return !apiequality.Semantic.DeepEqual(a, b)
}

// runtimeVersion is "<runtime>://<version>" for nodeInfo.
func (k *Kubelet) runtimeVersion(ctx context.Context) string {
	name := k.rt.Name()
	if v, ok := k.rt.(RuntimeVersioner); ok {
		if ver, err := v.Version(ctx); err == nil && ver != "" {
			return name + "://" + strings.TrimPrefix(ver, "v")
		}
	}
	if name == "process" {
		return "process://svclab"
	}
	return name + "://unknown"
}
