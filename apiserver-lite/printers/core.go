package printers

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	// labelNodeRolePrefix is the label prefix node roles are read from (node-role.kubernetes.io/<role>).
	labelNodeRolePrefix = "node-role.kubernetes.io/"
	// nodeLabelRole is the legacy single-role label (kubernetes.io/role=<role>).
	nodeLabelRole = "kubernetes.io/role"
)

var nodeHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Status", Type: "string", Description: "The status of the node"},
		{Name: "Roles", Type: "string", Description: "The roles of the node"},
		ageColumn(),
		{Name: "Version", Type: "string", Description: corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]},
		{Name: "Internal-IP", Type: "string", Priority: 1, Description: corev1.NodeStatus{}.SwaggerDoc()["addresses"]},
		{Name: "External-IP", Type: "string", Priority: 1, Description: corev1.NodeStatus{}.SwaggerDoc()["addresses"]},
		{Name: "OS-Image", Type: "string", Priority: 1, Description: corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]},
		{Name: "Kernel-Version", Type: "string", Priority: 1, Description: corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]},
		{Name: "Container-Runtime", Type: "string", Priority: 1, Description: corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]},
	},
	row: typed(printNode),
}

var namespaceHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Status", Type: "string", Description: "The status of the namespace"},
		ageColumn(),
	},
	row: typed(func(obj *corev1.Namespace) (metav1.TableRow, error) {
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, string(obj.Status.Phase), translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

var configMapHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Data", Type: "string", Description: corev1.ConfigMap{}.SwaggerDoc()["data"]},
		ageColumn(),
	},
	row: typed(func(obj *corev1.ConfigMap) (metav1.TableRow, error) {
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, int64(len(obj.Data) + len(obj.BinaryData)), translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

var secretHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Type", Type: "string", Description: corev1.Secret{}.SwaggerDoc()["type"]},
		{Name: "Data", Type: "string", Description: corev1.Secret{}.SwaggerDoc()["data"]},
		ageColumn(),
	},
	row: typed(func(obj *corev1.Secret) (metav1.TableRow, error) {
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, string(obj.Type), int64(secretDataCount(obj)), translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

var serviceAccountHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Secrets", Type: "string", Description: corev1.ServiceAccount{}.SwaggerDoc()["secrets"]},
		ageColumn(),
	},
	row: typed(func(obj *corev1.ServiceAccount) (metav1.TableRow, error) {
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, int64(len(obj.Secrets)), translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

// secretDataCount counts the secret's keys. Upstream's internal Secret has no stringData: the
// v1→internal conversion merges it into data, so its keys count too.
func secretDataCount(s *corev1.Secret) int {
	n := len(s.Data)
	for k := range s.StringData {
		if _, dup := s.Data[k]; !dup {
			n++
		}
	}
	return n
}

// printNode ports upstream's printNode: STATUS is Ready/NotReady/Unknown plus SchedulingDisabled
// for a cordoned node, ROLES come from the node-role labels.
func printNode(obj *corev1.Node) (metav1.TableRow, error) {
	row := metav1.TableRow{Object: runtime.RawExtension{Object: obj}}

	var status []string
	for i := range obj.Status.Conditions {
		// the last Ready condition wins, as upstream's condition map keeps the last one
		cond := obj.Status.Conditions[i]
		if cond.Type != corev1.NodeReady {
			continue
		}
		if cond.Status == corev1.ConditionTrue {
			status = []string{string(cond.Type)}
		} else {
			status = []string{"Not" + string(cond.Type)}
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if obj.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}

	roles := strings.Join(findNodeRoles(obj), ",")
	if len(roles) == 0 {
		roles = "<none>"
	}

	osImage, kernelVersion, crVersion := obj.Status.NodeInfo.OSImage, obj.Status.NodeInfo.KernelVersion, obj.Status.NodeInfo.ContainerRuntimeVersion
	if osImage == "" {
		osImage = "<unknown>"
	}
	if kernelVersion == "" {
		kernelVersion = "<unknown>"
	}
	if crVersion == "" {
		crVersion = "<unknown>"
	}
	row.Cells = append(row.Cells, obj.Name, strings.Join(status, ","), roles, translateTimestampSince(obj.CreationTimestamp), obj.Status.NodeInfo.KubeletVersion,
		nodeAddress(obj, corev1.NodeInternalIP), nodeAddress(obj, corev1.NodeExternalIP), osImage, kernelVersion, crVersion)
	return row, nil
}

// nodeAddress returns the node's first address of type t, or "<none>".
func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, address := range node.Status.Addresses {
		if address.Type == t {
			return address.Address
		}
	}
	return "<none>"
}

// findNodeRoles returns the sorted roles from node-role.kubernetes.io/<role> labels and the
// kubernetes.io/role=<role> label.
func findNodeRoles(node *corev1.Node) []string {
	set := map[string]bool{}
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, labelNodeRolePrefix):
			if role := strings.TrimPrefix(k, labelNodeRolePrefix); len(role) > 0 {
				set[role] = true
			}
		case k == nodeLabelRole && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}
