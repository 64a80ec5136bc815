package lab

import (
	"context"
	"fmt"
	"net"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/image"
)

// ProcessRuntimeClass is the RuntimeClass of system pods that need the host's tools
// (iptables-restore, nft, conntrack): the process runtime runs them with the host's
// filesystem in the node's namespace.
const ProcessRuntimeClass = "svclab-process"

// ProcessHandler is the RuntimeClass handler of the process runtime.
const ProcessHandler = "process"

// addons creates the kube-system objects a kubeadm cluster has: the RuntimeClass for
// host-tool pods and the kube-proxy DaemonSet with its ConfigMap and ServiceAccount.
func (l *Lab) addons(ctx context.Context) error {
	c := l.client
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: ProcessRuntimeClass,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "svclab"}}, Handler: ProcessHandler}
	if _, err := c.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create RuntimeClass %s: %w", ProcessRuntimeClass, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: metav1.NamespaceSystem}}
	if _, err := c.CoreV1().ServiceAccounts(metav1.NamespaceSystem).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount kube-proxy: %w", err)
	}
	if _, err := c.CoreV1().ConfigMaps(metav1.NamespaceSystem).Create(ctx, l.kubeProxyConfigMap(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ConfigMap kube-proxy: %w", err)
	}
	if _, err := c.AppsV1().DaemonSets(metav1.NamespaceSystem).Create(ctx, kubeProxyDaemonSet(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create DaemonSet kube-proxy: %w", err)
	}
	if err := l.dnsAddon(ctx); err != nil {
		return err
	}
	return l.ingressAddon(ctx)
}

// kubeProxyConfigMap is kubeadm's kube-proxy ConfigMap: config.conf (the
// KubeProxyConfiguration learners edit to switch modes) and kubeconfig.conf (the API
// server's address on the node network, with the pod's service-account token).
func (l *Lab) kubeProxyConfigMap() *corev1.ConfigMap {
	server := "https://" + net.JoinHostPort(l.plan.Gateway().String(), strconv.Itoa(l.apiPort()))
	config := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
clusterCIDR: %s
mode: %s
ipvs:
  scheduler: %s
iptables:
  masqueradeBit: 14
  minSyncPeriod: 0s
  syncPeriod: 30s
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 0.0.0.0:10256
nodePortAddresses: null
`, l.plan.PodCIDR, l.opts.ProxyMode, "rr")
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    server: %s
  name: default
contexts:
- context:
    cluster: default
    namespace: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
`, server)
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"app": "kube-proxy"}},
		Data: map[string]string{"config.conf": config, "kubeconfig.conf": kubeconfig},
	}
}

// kubeProxyDaemonSet is kubeadm's kube-proxy DaemonSet, running `svclab kube-proxy` through
// the process runtime (it needs the host's iptables-restore, nft and conntrack).
func kubeProxyDaemonSet() *appsv1.DaemonSet {
	labels := map[string]string{"k8s-app": "kube-proxy"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: metav1.NamespaceSystem, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostNetwork:        true,
					RuntimeClassName:   ptr.To(ProcessRuntimeClass),
					PriorityClassName:  "system-node-critical",
					ServiceAccountName: "kube-proxy",
					NodeSelector:       map[string]string{"kubernetes.io/os": "linux"},
					Tolerations:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name:  "kube-proxy",
						Image: image.Repository + ":" + image.Tags[0],
						Command: []string{"/svclab", "kube-proxy",
							"--config=/var/lib/kube-proxy/config.conf",
							"--hostname-override=$(NODE_NAME)"},
						Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}}},
						SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
						// Ready once the first sync has programmed the node (/healthz),
						// so `kubectl rollout status` means the rules are in.
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
							Path: "/healthz", Port: intstr.FromInt32(10256)}}, PeriodSeconds: 1},
						LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
							Path: "/livez", Port: intstr.FromInt32(10256)}}, PeriodSeconds: 10, FailureThreshold: 3},
						VolumeMounts: []corev1.VolumeMount{{Name: "kube-proxy", MountPath: "/var/lib/kube-proxy"}},
					}},
					Volumes: []corev1.Volume{{Name: "kube-proxy", VolumeSource: corev1.VolumeSource{
						ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-proxy"}}}}},
				},
			},
		},
	}
}
