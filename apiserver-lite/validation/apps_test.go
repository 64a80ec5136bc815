package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestValidateDeployment(t *testing.T) {
	tests := []struct {
		errorCase
		mutate func(d *appsv1.Deployment)
	}{
		{errorCase{"valid", nil}, func(d *appsv1.Deployment) {}},
		{errorCase{"negative replicas", []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
			func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](-1) }},
		{errorCase{"selector does not match template", []string{
			"spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"}},
			func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} }},
		{errorCase{"missing selector", []string{"spec.selector: Required value",
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"}},
			func(d *appsv1.Deployment) { d.Spec.Selector = nil }},
		{errorCase{"empty selector", []string{"spec.selector: Invalid value: {}: empty selector is invalid for deployment"}},
			func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }},
		{errorCase{"bad name", []string{"metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}},
			func(d *appsv1.Deployment) { d.Name = "Web_1" }},
		{errorCase{"container without image", []string{"spec.template.spec.containers[0].image: Required value"}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }},
		{errorCase{"container without name", []string{"spec.template.spec.containers[0].name: Required value"}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Name = "" }},
		{errorCase{"port out of range", []string{"spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort = 70000 }},
		{errorCase{"port name too long", []string{"spec.template.spec.containers[0].ports[0].name: Invalid value: \"http-frontend-xx\": must be no more than 15 characters"}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Ports[0].Name = "http-frontend-xx" }},
		{errorCase{"bad protocol", []string{"spec.template.spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Ports[0].Protocol = "HTTP" }},
		{errorCase{"restartPolicy Never", []string{"spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }},
		{errorCase{"both surge and unavailable zero", []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"}},
			func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
				d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("0%"))
			}},
		{errorCase{"recreate with rollingUpdate", []string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
			func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }},
		{errorCase{"progress deadline", []string{"spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"}},
			func(d *appsv1.Deployment) {
				d.Spec.MinReadySeconds = 10
				d.Spec.ProgressDeadlineSeconds = ptr.To[int32](5)
			}},
		{errorCase{"env name with =", []string{"spec.template.spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} }},
		{errorCase{"activeDeadlineSeconds", []string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"}},
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](30) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeployment()
			tt.mutate(d)
			checkErrors(t, Validate(d), tt.want)
		})
	}
}

func TestValidateDeploymentUpdate(t *testing.T) {
	old := validDeployment()
	d := validDeployment()
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "fe"}}
	d.Spec.Template.Labels = map[string]string{"app": "web", "tier": "fe"}
	checkErrors(t, ValidateUpdate(d, old), []string{`spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"fe"}}: field is immutable`})
	scaled := validDeployment()
	scaled.Spec.Replicas = ptr.To[int32](5)
	scaled.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	checkErrors(t, ValidateUpdate(scaled, old), nil)
}

func TestValidateReplicaSetAndDaemonSet(t *testing.T) {
	labels := map[string]string{"app": "proxy"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "proxy", Image: "svclab"}}}}
	rs := defaulted(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](-2), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}})
	checkErrors(t, Validate(rs), []string{"spec.replicas: Invalid value: -2: must be greater than or equal to 0"})

	ds := defaulted(&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-proxy"}}, Template: tmpl}})
	checkErrors(t, Validate(ds), []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"proxy\"}: `selector` does not match template `labels`"})

	ds.Spec.Selector.MatchLabels = labels
	ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(1))
	checkErrors(t, Validate(ds), []string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"})
}

func TestValidateAppsStatusUpdate(t *testing.T) {
	old := validDeployment()
	d := validDeployment()
	d.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 2, AvailableReplicas: 1}
	checkErrors(t, ValidateStatusUpdate(d, old), []string{"status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"})
	old.Status.CollisionCount = ptr.To[int32](2)
	d.Status = appsv1.DeploymentStatus{CollisionCount: ptr.To[int32](1)}
	checkErrors(t, ValidateStatusUpdate(d, old), []string{"status.collisionCount: Invalid value: 1: cannot be decremented"})
}
