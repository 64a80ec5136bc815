package defaults

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := RegisterDefaults(s); err != nil {
		t.Fatalf("RegisterDefaults: %v", err)
	}
	return s
}

// fromYAML strictly decodes want into a new T.
func fromYAML[T any](t *testing.T, want string) *T {
	t.Helper()
	out := new(T)
	if err := yaml.UnmarshalStrict([]byte(want), out); err != nil {
		t.Fatalf("bad expected YAML: %v", err)
	}
	return out
}

// The spec `kubectl create deployment web --image=nginx` reads back with from a 1.32 cluster
// (`kubectl get deploy web -o yaml`).
const wantDeploymentSpec = `
progressDeadlineSeconds: 600
replicas: 1
revisionHistoryLimit: 10
selector:
  matchLabels:
    app: web
strategy:
  rollingUpdate:
    maxSurge: 25%
    maxUnavailable: 25%
  type: RollingUpdate
template:
  metadata:
    labels:
      app: web
  spec:
    containers:
    - image: nginx
      imagePullPolicy: Always
      name: nginx
      resources: {}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    dnsPolicy: ClusterFirst
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {}
    terminationGracePeriodSeconds: 30
`

func TestMinimalDeploymentMatchesCluster(t *testing.T) {
	s := newScheme(t)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	s.Default(d)
	want := fromYAML[appsv1.DeploymentSpec](t, wantDeploymentSpec)
	if diff := cmp.Diff(*want, d.Spec); diff != "" {
		t.Errorf("defaulted deployment spec differs from a real cluster (-want +got):\n%s", diff)
	}
}

// The defaulting part of what `kubectl run web --image=nginx:1.27 --port=80` reads back with;
// serviceAccountName, tolerations, priority and the token volume come from admission, not here.
const wantPodSpec = `
containers:
- image: nginx:1.27
  imagePullPolicy: IfNotPresent
  name: web
  ports:
  - containerPort: 80
    protocol: TCP
  readinessProbe:
    failureThreshold: 3
    httpGet:
      path: /
      port: 80
      scheme: HTTP
    periodSeconds: 10
    successThreshold: 1
    timeoutSeconds: 1
  resources:
    limits:
      cpu: 500m
    requests:
      cpu: 500m
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
dnsPolicy: ClusterFirst
enableServiceLinks: true
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
terminationGracePeriodSeconds: 30
volumes:
- configMap:
    defaultMode: 420
    name: cfg
  name: cfg
- name: scratch
  emptyDir: {}
`

func TestPodDefaults(t *testing.T) {
	s := newScheme(t)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "web", Image: "nginx:1.27",
				Ports:          []corev1.ContainerPort{{ContainerPort: 80}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intOrStr(80)}}},
				Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.5")}},
			}},
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "scratch"},
			},
		},
	}
	s.Default(p)
	want := fromYAML[corev1.PodSpec](t, wantPodSpec)
	if diff := cmp.Diff(*want, p.Spec, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("defaulted pod spec (-want +got):\n%s", diff)
	}
}

func TestPodTemplateDoesNotGetPodOnlyDefaults(t *testing.T) {
	s := newScheme(t)
	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}},
	}}}}
	s.Default(rs)
	spec := rs.Spec.Template.Spec
	if spec.EnableServiceLinks != nil {
		t.Errorf("template enableServiceLinks = %v, want unset (Pod-only default)", *spec.EnableServiceLinks)
	}
	if spec.Containers[0].Resources.Requests != nil {
		t.Errorf("template requests = %v, want unset (requests default from limits only on Pods)", spec.Containers[0].Resources.Requests)
	}
	if *rs.Spec.Replicas != 1 {
		t.Errorf("replicas = %d, want 1", *rs.Spec.Replicas)
	}
}

func TestPullPolicyFor(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                       corev1.PullAlways,
		"nginx:latest":                corev1.PullAlways,
		"nginx:1.27":                  corev1.PullIfNotPresent,
		"registry.k8s.io/pause:3.10":  corev1.PullIfNotPresent,
		"localhost:5000/app":          corev1.PullAlways,
		"localhost:5000/app:v2":       corev1.PullIfNotPresent,
		"nginx@sha256:0123456789abcd": corev1.PullIfNotPresent,
		"nginx:latest@sha256:0123abc": corev1.PullAlways,
		"":                            corev1.PullIfNotPresent,
		"NGINX":                       corev1.PullIfNotPresent,
	} {
		if got := PullPolicyFor(image); got != want {
			t.Errorf("PullPolicyFor(%q) = %s, want %s", image, got, want)
		}
	}
}

func TestObjectDefaults(t *testing.T) {
	s := newScheme(t)
	tests := []struct {
		name  string
		obj   runtime.Object
		check func(t *testing.T, obj runtime.Object)
	}{
		{"namespace label and phase", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab"}}, func(t *testing.T, o runtime.Object) {
			ns := o.(*corev1.Namespace)
			if ns.Labels[corev1.LabelMetadataName] != "lab" || ns.Status.Phase != corev1.NamespaceActive {
				t.Errorf("got labels %v phase %q", ns.Labels, ns.Status.Phase)
			}
		}},
		{"secret type", &corev1.Secret{}, func(t *testing.T, o runtime.Object) {
			if got := o.(*corev1.Secret).Type; got != corev1.SecretTypeOpaque {
				t.Errorf("type = %q", got)
			}
		}},
		{"configmap data", &corev1.ConfigMap{}, func(t *testing.T, o runtime.Object) {
			if o.(*corev1.ConfigMap).Data == nil {
				t.Error("data is nil")
			}
		}},
		{"endpoints protocol", &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}, func(t *testing.T, o runtime.Object) {
			if got := o.(*corev1.Endpoints).Subsets[0].Ports[0].Protocol; got != corev1.ProtocolTCP {
				t.Errorf("protocol = %q", got)
			}
		}},
		{"endpointslice port", &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}}}, func(t *testing.T, o runtime.Object) {
			p := o.(*discoveryv1.EndpointSlice).Ports[0]
			if p.Name == nil || *p.Name != "" || p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP {
				t.Errorf("port = %+v", p)
			}
		}},
		{"ingressclass scope", &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n"}}}, func(t *testing.T, o runtime.Object) {
			if sc := o.(*networkingv1.IngressClass).Spec.Parameters.Scope; sc == nil || *sc != "Cluster" {
				t.Errorf("scope = %v", sc)
			}
		}},
		{"node allocatable", &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}}, func(t *testing.T, o runtime.Object) {
			if q := o.(*corev1.Node).Status.Allocatable[corev1.ResourcePods]; q.Value() != 110 {
				t.Errorf("allocatable pods = %s", q.String())
			}
		}},
		{"daemonset strategy", &appsv1.DaemonSet{}, func(t *testing.T, o runtime.Object) {
			ds := o.(*appsv1.DaemonSet)
			ru := ds.Spec.UpdateStrategy.RollingUpdate
			if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru.MaxUnavailable.IntValue() != 1 || ru.MaxSurge.IntValue() != 0 || *ds.Spec.RevisionHistoryLimit != 10 {
				t.Errorf("strategy = %+v", ds.Spec.UpdateStrategy)
			}
		}},
		{"pod list items", &corev1.PodList{Items: []corev1.Pod{{}}}, func(t *testing.T, o runtime.Object) {
			if o.(*corev1.PodList).Items[0].Spec.RestartPolicy != corev1.RestartPolicyAlways {
				t.Error("list item not defaulted")
			}
		}},
		{"service is left alone", &corev1.Service{}, func(t *testing.T, o runtime.Object) {
			if o.(*corev1.Service).Spec.Type != "" {
				t.Error("Service was defaulted; that belongs to the service package")
			}
		}},
		{"probe grpc service and hostNetwork ports", &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
			Ports: []corev1.ContainerPort{{ContainerPort: 53}}, LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9}}},
		}}}}, func(t *testing.T, o runtime.Object) {
			c := o.(*corev1.Pod).Spec.Containers[0]
			if c.Ports[0].HostPort != 53 || c.LivenessProbe.GRPC.Service == nil || *c.LivenessProbe.GRPC.Service != "" {
				t.Errorf("container = %+v", c)
			}
		}},
		{"volume sources", &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
			{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
			{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
		}}}, func(t *testing.T, o runtime.Object) {
			v := o.(*corev1.Pod).Spec.Volumes
			if *v[0].Secret.DefaultMode != 420 || *v[1].HostPath.Type != corev1.HostPathUnset || *v[2].Projected.DefaultMode != 420 || *v[2].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds != 3600 {
				t.Errorf("volumes = %+v", v)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Default(tt.obj)
			tt.check(t, tt.obj)
		})
	}
}

func intOrStr(i int32) intstr.IntOrString { return intstr.FromInt32(i) }
