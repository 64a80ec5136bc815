package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestValidatePod(t *testing.T) {
	tests := []struct {
		errorCase
		mutate func(p *corev1.Pod)
	}{
		{errorCase{"valid", nil}, func(p *corev1.Pod) {}},
		{errorCase{"no containers", []string{"spec.containers: Required value"}},
			func(p *corev1.Pod) { p.Spec.Containers = nil }},
		{errorCase{"duplicate container name", []string{"spec.containers[1].name: Duplicate value: \"web\""}},
			func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, *p.Spec.Containers[0].DeepCopy()) }},
		{errorCase{"duplicate port name", []string{"spec.containers[0].ports[1].name: Duplicate value: \"http\""}},
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81, Protocol: "TCP"})
			}},
		{errorCase{"image whitespace", []string{"spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace"}},
			func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }},
		{errorCase{"bad restart policy", []string{"spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""}},
			func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }},
		{errorCase{"probe with two handlers", []string{"spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"}},
			func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = defaultedProbe(corev1.ProbeHandler{
					HTTPGet:   &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http"), Scheme: "HTTP"},
					TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
				})
			}},
		{errorCase{"probe without handler", []string{"spec.containers[0].livenessProbe: Required value: must specify a handler type"}},
			func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe = defaultedProbe(corev1.ProbeHandler{}) }},
		{errorCase{"liveness success threshold", []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
			func(p *corev1.Pod) {
				pr := defaultedProbe(corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}})
				pr.SuccessThreshold = 2
				p.Spec.Containers[0].LivenessProbe = pr
			}},
		{errorCase{"probe port name too long", []string{"spec.containers[0].readinessProbe.httpGet.port: Invalid value: \"metrics-endpoint\": must be no more than 15 characters"}},
			func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = defaultedProbe(corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("metrics-endpoint"), Scheme: "HTTP"}})
			}},
		{errorCase{"requests above limits", []string{"spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"}},
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}, Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
			}},
		{errorCase{"mount of unknown volume", []string{"spec.containers[0].volumeMounts[0].name: Not found: \"data\""}},
			func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			}},
		{errorCase{"secret volume without name", []string{"spec.volumes[0].secret.secretName: Required value"}},
			func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{DefaultMode: ptr.To[int32](0644)}}}}
			}},
		{errorCase{"two volume types", []string{"spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"}},
			func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
					EmptyDir: &corev1.EmptyDirVolumeSource{}, ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}}}
			}},
		{errorCase{"hostNetwork hostPort mismatch", []string{"spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true"}},
			func(p *corev1.Pod) { p.Spec.HostNetwork = true; p.Spec.Containers[0].Ports[0].HostPort = 8080 }},
		{errorCase{"toleration without key", []string{"spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""}},
			func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual}} }},
		{errorCase{"ephemeral containers on create", []string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}},
			func(p *corev1.Pod) {
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}}
			}},
		{errorCase{"sidecar restartPolicy", []string{"spec.initContainers[0].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""}},
			func(p *corev1.Pod) {
				ic := *p.Spec.Containers[0].DeepCopy()
				ic.Name, ic.Ports, ic.RestartPolicy = "init", nil, ptr.To(corev1.ContainerRestartPolicy("Never"))
				p.Spec.InitContainers = []corev1.Container{ic}
			}},
		{errorCase{"dnsPolicy None without config", []string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
			func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }},
		{errorCase{"env valueFrom and value", []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"}},
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "POD", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}}
			}},
		{errorCase{"env bad fieldPath", []string{"spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.podIP\": supported values: ..."}},
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.podIP"}}}}
			}},
		{errorCase{"invalid label", []string{"metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"}},
			func(p *corev1.Pod) { p.Labels = map[string]string{"app": "-bad"} }},
		{errorCase{"namespace required", []string{"metadata.namespace: Required value"}},
			func(p *corev1.Pod) { p.Namespace = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			tt.mutate(p)
			checkErrors(t, Validate(p), tt.want)
		})
	}
}

func defaultedProbe(h corev1.ProbeHandler) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: h, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
}

func TestValidatePodUpdate(t *testing.T) {
	tests := []struct {
		errorCase
		mutate func(p *corev1.Pod)
	}{
		{errorCase{"image change is allowed", nil}, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }},
		{errorCase{"adding a toleration is allowed", nil}, func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: "Exists", Effect: "NoSchedule"})
		}},
		{errorCase{"env change is forbidden", []string{"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n..."}},
			func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}} }},
		{errorCase{"adding a container", []string{"spec.containers: Forbidden: pod updates may not add or remove containers"}},
			func(p *corev1.Pod) {
				c := *p.Spec.Containers[0].DeepCopy()
				c.Name, c.Ports = "second", nil
				p.Spec.Containers = append(p.Spec.Containers, c)
			}},
		{errorCase{"renaming", []string{"metadata.name: Invalid value: \"other\": field is immutable"}},
			func(p *corev1.Pod) { p.Name = "other" }},
		{errorCase{"raising activeDeadlineSeconds", []string{"spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"}},
			func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](20) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validPod()
			old.Spec.ActiveDeadlineSeconds = ptr.To[int64](10)
			p := old.DeepCopy()
			tt.mutate(p)
			checkErrors(t, ValidateUpdate(p, old), tt.want)
		})
	}
}

func TestValidatePodStatusUpdate(t *testing.T) {
	old := validPod()
	old.Spec.NodeName = "node-1"
	p := old.DeepCopy()
	p.Spec.NodeName = "node-2"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.300"}}
	checkErrors(t, ValidateStatusUpdate(p, old), []string{
		"status.nodeName: Forbidden: may not be changed directly",
		"status.podIPs[0]: Invalid value: \"10.244.1.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
	})
}
