package kubelet

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestContainerEnv(t *testing.T) {
	objs := []any{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "default"}, Data: map[string]string{"MODE": "demo", "LEVEL": "3", "bad-key": "x"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"}, Data: map[string][]byte{"password": []byte("s3cret")}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "my-svc", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.5.5",
			Ports: []corev1.ServicePort{{Name: "web", Port: 8080, Protocol: corev1.ProtocolTCP}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "None",
			Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "elsewhere"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.6.6",
			Ports: []corev1.ServicePort{{Port: 80}}}},
	}
	fieldEnv := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	for _, tc := range []struct {
		name  string
		links bool
		want  map[string]string
		none  []string
	}{
		{name: "service links", links: true, want: map[string]string{
			"GREETING": "hello demo", "POD_NAME": "envpod", "POD_NAMESPACE": "default", "POD_UID": "envpod-uid",
			"POD_IP": "10.245.1.2", "NODE_NAME": "node-1", "HOST_IP": "172.31.7.11", "SA": "default",
			"MODE": "override", "CFG_LEVEL": "3", "CFG_MODE": "demo", "PASSWORD": "s3cret", "LVL": "3",
			"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_PORT_HTTPS": "443",
			"KUBERNETES_PORT": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
			"MY_SVC_SERVICE_HOST": "10.96.5.5", "MY_SVC_SERVICE_PORT": "8080", "MY_SVC_SERVICE_PORT_WEB": "8080",
			"MY_SVC_SERVICE_PORT_DNS": "53", "MY_SVC_PORT": "tcp://10.96.5.5:8080", "MY_SVC_PORT_53_UDP": "udp://10.96.5.5:53",
			"MY_SVC_PORT_53_UDP_PROTO": "udp", "MY_SVC_PORT_53_UDP_PORT": "53", "MY_SVC_PORT_8080_TCP_ADDR": "10.96.5.5",
		}, none: []string{"HEADLESS_SERVICE_HOST", "OTHER_SERVICE_HOST", "CFG_other"}},
		{name: "no service links", links: false, want: map[string]string{
			"KUBERNETES_SERVICE_HOST": "10.96.0.1", "POD_NAME": "envpod",
		}, none: []string{"MY_SVC_SERVICE_HOST"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, toObjects(objs)...)
			w := h.start(testPod("envpod", func(p *corev1.Pod) {
				p.Spec.EnableServiceLinks = ptr.To(tc.links)
				c := &p.Spec.Containers[0]
				c.EnvFrom = []corev1.EnvFromSource{
					{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Optional: ptr.To(true)}},
				}
				c.Env = []corev1.EnvVar{
					{Name: "MODE", Value: "override"},
					{Name: "GREETING", Value: "hello $(CFG_MODE)"},
					fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace"),
					fieldEnv("POD_UID", "metadata.uid"), fieldEnv("POD_IP", "status.podIP"),
					fieldEnv("NODE_NAME", "spec.nodeName"), fieldEnv("HOST_IP", "status.hostIP"),
					fieldEnv("SA", "spec.serviceAccountName"),
					{Name: "LVL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "LEVEL"}}},
					{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
					{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "nope", Optional: ptr.To(true)}}},
				}
				c.Args = []string{"--mode=$(MODE)", "--unknown=$(NOPE)", "$$(MODE)"}
			}))
			h.sync(w)
			spec, ok := h.rt.Running()["app"]
			if !ok {
				t.Fatalf("not started: %v", containerStatus(h.pod("envpod"), "app").State)
			}
			env := envMap(spec.Env)
			for k, v := range tc.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range tc.none {
				if _, ok := env[k]; ok {
					t.Errorf("%s set, want unset", k)
				}
			}
			if _, ok := env["OPT"]; ok {
				t.Error("optional missing key produced a variable")
			}
			if got := strings.Join(spec.Args, " "); got != "--mode=override --unknown=$(NOPE) $(MODE)" {
				t.Errorf("args = %q", got)
			}
		})
	}
}

func TestEnvMissingConfigMap(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("cfgerr", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k"}}}}
	}))
	h.sync(w)
	if len(h.rt.Running()) != 0 {
		t.Fatal("started without its configmap")
	}
	st := containerStatus(h.pod("cfgerr"), "app").State.Waiting
	if st == nil || st.Reason != "CreateContainerConfigError" || st.Message != `configmap "absent" not found` {
		t.Errorf("waiting = %+v", st)
	}
	if !hasEvent(h.events(), `Warning Failed Error: configmap "absent" not found`) {
		t.Error("no Failed event")
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"$(A)-$(B)": "1-two", "$(C)": "$(C)", "$$(A)": "$(A)", "x$": "x$", "$(A": "$(A", "$x": "$x", "": "",
	} {
		if got := expandVars(in, vars); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}
