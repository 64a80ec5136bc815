package kubectl_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testNode is the one Node pods are bound to (172.30.0.11, the lab's first node address).
const testNode = "node-1"

var nodeOnce sync.Once
var nodeErr error

// ensureNode creates testNode, Ready, once.
func ensureNode(ctx context.Context) error {
	nodeOnce.Do(func() {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, Labels: map[string]string{"kubernetes.io/hostname": testNode}}}
		node, nodeErr = srv.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if nodeErr != nil {
			nodeErr = fmt.Errorf("create node %s: %w", testNode, nodeErr)
			return
		}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.30.0.11"}, {Type: corev1.NodeHostName, Address: testNode}}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		if _, err := srv.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			nodeErr = fmt.Errorf("set node %s ready: %w", testNode, err)
		}
	})
	return nodeErr
}

// podIPSeq hands out pod IPs (10.244.0.0/16, the lab's pod CIDR) to pods marked ready.
var podIPSeq atomic.Uint32

// markPodsReady does what the scheduler and a kubelet would: it binds every pod of ns matching
// selector that is not yet Ready (and not being deleted) to testNode and sets it Running and
// Ready with a pod IP through the pods/status subresource. It returns how many pods it changed.
func markPodsReady(ctx context.Context, ns, selector string) (int, error) {
	pods, err := srv.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, fmt.Errorf("list pods in %s: %w", ns, err)
	}
	if err := ensureNode(ctx); err != nil {
		return 0, err
	}
	n := 0
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || podReady(pod) {
			continue
		}
		if pod.Spec.NodeName == "" {
			// What the scheduler does: bind the pod to a node (the endpoint-slice controller
			// skips pods whose node it cannot find, as upstream's does).
			b := &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns},
				Target:     corev1.ObjectReference{Kind: "Node", Name: testNode},
			}
			if err := srv.Client.CoreV1().Pods(ns).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
				return n, fmt.Errorf("bind pod %s/%s: %w", ns, pod.Name, err)
			}
			if pod, err = srv.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
				return n, fmt.Errorf("get bound pod: %w", err)
			}
		}
		setRunningReady(pod)
		if _, err := srv.Client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			return n, fmt.Errorf("mark pod %s/%s ready: %w", ns, pod.Name, err)
		}
		n++
	}
	return n, nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func setRunningReady(pod *corev1.Pod) {
	now := metav1.Now()
	seq := podIPSeq.Add(1)
	ip := fmt.Sprintf("10.244.%d.%d", 1+seq/250, 1+seq%250)
	pod.Status.Phase = corev1.PodRunning
	pod.Status.HostIP = "172.30.0.11"
	pod.Status.HostIPs = []corev1.HostIP{{IP: "172.30.0.11"}}
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.StartTime = &now
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := true
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ImageID:     "svclab://" + c.Image,
			ContainerID: "svclab://" + pod.Name + "/" + c.Name,
			Ready:       true,
			Started:     &started,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

// finishTermination does a kubelet's part of graceful deletion: once the API server has set a
// bound pod's deletionTimestamp, the kubelet stops it and deletes it for good (grace period 0).
func finishTermination(ctx context.Context, ns string) error {
	pods, err := srv.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", ns, err)
	}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp == nil || pod.Spec.NodeName != testNode {
			continue
		}
		zero := int64(0)
		err := srv.Client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete terminating pod %s/%s: %w", ns, pod.Name, err)
		}
	}
	return nil
}

// fakeKubelet keeps marking every pod of ns Running and Ready, and finishing their graceful
// deletion, until the test ends: a stand-in for the scheduler and kubelet this API server does
// not have yet (rollouts need ready pods to progress).
func fakeKubelet(t *testing.T, ns string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			// Errors (a conflict with a controller's write, say) are retried on the next tick.
			_, _ = markPodsReady(ctx, ns, "")
			_ = finishTermination(ctx, ns)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}
