package lab

import (
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/lab/network"
)

// PodNetNSPath is the network namespace of a pod of lab (for tools and benchmarks that
// send traffic from inside a pod).
func PodNetNSPath(lab string, pod *corev1.Pod) string {
	return filepath.Join(network.NetNSDir, network.PodNetNS(lab, podID(pod)))
}
