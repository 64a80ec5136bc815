package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func testNode(mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", CreationTimestamp: ago(26 * time.Hour), Labels: map[string]string{"kubernetes.io/hostname": "node-1"}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "172.30.0.11"}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-svclab", OSImage: "Debian GNU/Linux 13 (trixie)",
				KernelVersion: "6.12.0-1-amd64", ContainerRuntimeVersion: "containerd://2.1.0"},
		},
	}
	mutate(n)
	return n
}

func TestPrintNode(t *testing.T) {
	const cols = "NAME | STATUS | ROLES | AGE | VERSION | INTERNAL-IP (wide) | EXTERNAL-IP (wide) | OS-IMAGE (wide) | KERNEL-VERSION (wide) | CONTAINER-RUNTIME (wide)"
	wideNode := func(cells ...interface{}) []interface{} {
		return append(cells, "172.30.0.11", "<none>", "Debian GNU/Linux 13 (trixie)", "6.12.0-1-amd64", "containerd://2.1.0")
	}
	cases := []rowCase{
		{"ready worker", testNode(func(*corev1.Node) {}), wideNode("node-1", "Ready", "<none>", "26h", "v1.37.2-svclab")},
		{"not ready", testNode(func(n *corev1.Node) {
			n.Status.Conditions[1].Status = corev1.ConditionUnknown
		}), wideNode("node-1", "NotReady", "<none>", "26h", "v1.37.2-svclab")},
		{"no ready condition", testNode(func(n *corev1.Node) {
			n.Status.Conditions = n.Status.Conditions[:1]
		}), wideNode("node-1", "Unknown", "<none>", "26h", "v1.37.2-svclab")},
		{"cordoned", testNode(func(n *corev1.Node) {
			n.Spec.Unschedulable = true
		}), wideNode("node-1", "Ready,SchedulingDisabled", "<none>", "26h", "v1.37.2-svclab")},
		{"cordoned without conditions", testNode(func(n *corev1.Node) {
			n.Spec.Unschedulable = true
			n.Status.Conditions = nil
		}), wideNode("node-1", "Unknown,SchedulingDisabled", "<none>", "26h", "v1.37.2-svclab")},
		{"control plane role", testNode(func(n *corev1.Node) {
			n.Labels["node-role.kubernetes.io/control-plane"] = ""
		}), wideNode("node-1", "Ready", "control-plane", "26h", "v1.37.2-svclab")},
		{"roles sorted, legacy label, empty role ignored", testNode(func(n *corev1.Node) {
			n.Labels["node-role.kubernetes.io/worker"] = ""
			n.Labels["node-role.kubernetes.io/"] = ""
			n.Labels["kubernetes.io/role"] = "edge"
			n.Labels["node-role.kubernetes.io/control-plane"] = "true"
		}), wideNode("node-1", "Ready", "control-plane,edge,worker", "26h", "v1.37.2-svclab")},
		{"external IP and unknown node info", testNode(func(n *corev1.Node) {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.11"})
			n.Status.NodeInfo = corev1.NodeSystemInfo{}
		}), []interface{}{"node-1", "Ready", "<none>", "26h", "", "172.30.0.11", "203.0.113.11", "<unknown>", "<unknown>", "<unknown>"}},
	}
	checkRows(t, schema.GroupResource{Resource: "nodes"}, cols, cases)
}

func TestPrintSimpleCoreResources(t *testing.T) {
	created := metav1.ObjectMeta{Name: "x", Namespace: "default", CreationTimestamp: ago(45 * time.Second)}
	t.Run("namespaces", func(t *testing.T) {
		checkRows(t, schema.GroupResource{Resource: "namespaces"}, "NAME | STATUS | AGE", []rowCase{
			{"active", &corev1.Namespace{ObjectMeta: created, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}, []interface{}{"x", "Active", "45s"}},
			{"terminating", &corev1.Namespace{ObjectMeta: created, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}, []interface{}{"x", "Terminating", "45s"}},
		})
	})
	t.Run("configmaps", func(t *testing.T) {
		checkRows(t, schema.GroupResource{Resource: "configmaps"}, "NAME | DATA | AGE", []rowCase{
			{"empty", &corev1.ConfigMap{ObjectMeta: created}, []interface{}{"x", int64(0), "45s"}},
			{"data and binary data", &corev1.ConfigMap{ObjectMeta: created, Data: map[string]string{"mode": "ipvs", "a": "b"},
				BinaryData: map[string][]byte{"blob": {1}}}, []interface{}{"x", int64(3), "45s"}},
		})
	})
	t.Run("secrets", func(t *testing.T) {
		checkRows(t, schema.GroupResource{Resource: "secrets"}, "NAME | TYPE | DATA | AGE", []rowCase{
			{"opaque", &corev1.Secret{ObjectMeta: created, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"user": nil, "pass": nil}},
				[]interface{}{"x", "Opaque", int64(2), "45s"}},
			{"tls with stringData merged", &corev1.Secret{ObjectMeta: created, Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{"tls.crt": nil}, StringData: map[string]string{"tls.crt": "x", "tls.key": "y"}},
				[]interface{}{"x", "kubernetes.io/tls", int64(2), "45s"}},
		})
	})
	t.Run("serviceaccounts", func(t *testing.T) {
		checkRows(t, schema.GroupResource{Resource: "serviceaccounts"}, "NAME | SECRETS | AGE", []rowCase{
			{"default", &corev1.ServiceAccount{ObjectMeta: created}, []interface{}{"x", int64(0), "45s"}},
			{"with a secret", &corev1.ServiceAccount{ObjectMeta: created, Secrets: []corev1.ObjectReference{{Name: "token"}}}, []interface{}{"x", int64(1), "45s"}},
		})
	})
}
