package kubelet

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svclab/svclab/lab/runtime"
)

// runtimeHandler resolves the pod's spec.runtimeClassName to its RuntimeClass handler, as
// kubelet does before creating the sandbox ("" without a RuntimeClass).
func (k *Kubelet) runtimeHandler(ctx context.Context, pod *corev1.Pod) (string, error) {
	if pod.Spec.RuntimeClassName == nil || *pod.Spec.RuntimeClassName == "" {
		return "", nil
	}
	name := *pod.Spec.RuntimeClassName
	rc, err := k.client.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("RuntimeClass %q not found", name)
	}
	if err != nil {
		return "", fmt.Errorf("get RuntimeClass %q: %w", name, err)
	}
	if m, ok := k.rt.(*runtime.Multi); ok {
		if _, err := m.ForHandler(rc.Handler); err != nil {
			return "", err
		}
	} else if rc.Handler != k.rt.Name() {
		return "", fmt.Errorf("RuntimeClass %q: handler %q is not configured on this node", name, rc.Handler)
	}
	return rc.Handler, nil
}

// imageRuntime is the runtime that will run the pod's containers.
func (k *Kubelet) imageRuntime(handler string) runtime.Runtime {
	if m, ok := k.rt.(*runtime.Multi); ok {
		if rt, err := m.ForHandler(handler); err == nil {
			return rt
		}
	}
	return k.rt
}
