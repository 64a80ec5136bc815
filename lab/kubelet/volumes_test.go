package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/runtime"
)

func mountAt(spec runtime.ContainerSpec, path string) (runtime.Mount, bool) {
	for _, m := range spec.Mounts {
		if m.ContainerPath == path {
			return m, true
		}
	}
	return runtime.Mount{}, false
}

func TestServiceAccountTokenVolume(t *testing.T) {
	h := newHarness(t)
	h.k.cfg.TokenAudiences = []string{"https://kubernetes.default.svc.cluster.local"}
	w := h.start(testPod("sa"))
	h.sync(w)
	spec := h.rt.Running()["app"]
	m, ok := mountAt(spec, ServiceAccountMountPath)
	if !ok || !m.ReadOnly {
		t.Fatalf("token mount = %+v (found %v)", m, ok)
	}
	for file, want := range map[string]string{"token": "token-1", "ca.crt": "CA PEM", "namespace": "default"} {
		if got := readFile(t, filepath.Join(m.HostPath, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if !strings.HasPrefix(m.HostPath, h.k.cfg.StateDir) {
		t.Errorf("token volume %s outside the state dir", m.HostPath)
	}
	h.mu.Lock()
	if len(h.tokens) != 1 {
		t.Fatalf("token requests = %d", len(h.tokens))
	}
	req := h.tokens[0]
	h.mu.Unlock()
	if ref := req.Spec.BoundObjectRef; ref == nil || ref.Kind != "Pod" || ref.Name != "sa" || ref.UID != "sa-uid" {
		t.Errorf("bound object = %+v", req.Spec.BoundObjectRef)
	}
	if *req.Spec.ExpirationSeconds != 3607 || len(req.Spec.Audiences) != 1 || req.Spec.Audiences[0] != "https://kubernetes.default.svc.cluster.local" {
		t.Errorf("token request spec = %+v", req.Spec)
	}

	// A minute later the volume is rewritten but the token is not due yet; at 80% of its hour
	// it is renewed.
	h.step(w, time.Minute)
	if got := readFile(t, filepath.Join(m.HostPath, "token")); got != "token-1" {
		t.Errorf("token renewed early: %q", got)
	}
	h.step(w, 48*time.Minute)
	if got := readFile(t, filepath.Join(m.HostPath, "token")); got != "token-2" {
		t.Errorf("token after 49m = %q, want token-2", got)
	}
}

func TestAutomountDisabled(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("nosa", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(false) }))
	h.sync(w)
	if _, ok := mountAt(h.rt.Running()["app"], ServiceAccountMountPath); ok {
		t.Error("token mounted although automountServiceAccountToken is false")
	}
}

func TestVolumes(t *testing.T) {
	hostDir := filepath.Join(t.TempDir(), "host-data")
	h := newHarness(t,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-conf", Namespace: "default"}, Data: map[string]string{"index.html": "hi", "other": "o"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "default"}, Data: map[string][]byte{"tls.key": []byte("KEY")}},
	)
	dirType := corev1.HostPathDirectoryOrCreate
	w := h.start(testPod("vols", func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "web"}
		p.Spec.Volumes = []corev1.Volume{
			{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "web-conf"}, Items: []corev1.KeyToPath{{Key: "index.html", Path: "html/index.html"}}}}},
			{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: &dirType}}},
		}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
			{Name: "conf", MountPath: "/usr/share/nginx"}, {Name: "certs", MountPath: "/certs"},
			{Name: "scratch", MountPath: "/tmp/scratch"}, {Name: "info", MountPath: "/etc/podinfo"},
			{Name: "data", MountPath: "/data", SubPath: "sub"},
		}
	}))
	h.sync(w)
	spec, ok := h.rt.Running()["app"]
	if !ok {
		t.Fatalf("not started: %+v", containerStatus(h.pod("vols"), "app").State)
	}
	check := func(path, file, want string, ro bool) {
		t.Helper()
		m, ok := mountAt(spec, path)
		if !ok {
			t.Errorf("no mount at %s", path)
			return
		}
		if m.ReadOnly != ro {
			t.Errorf("%s readOnly = %v", path, m.ReadOnly)
		}
		if file != "" {
			if got := readFile(t, filepath.Join(m.HostPath, file)); got != want {
				t.Errorf("%s/%s = %q, want %q", path, file, got, want)
			}
		}
	}
	check("/usr/share/nginx", "html/index.html", "hi", true)
	check("/certs", "tls.key", "KEY", true)
	check("/tmp/scratch", "", "", false)
	check("/etc/podinfo", "labels", `app="web"`, true)
	check("/etc/podinfo", "name", "vols", true)
	check("/data", "", "", false)
	if m, _ := mountAt(spec, "/data"); m.HostPath != filepath.Join(hostDir, "sub") {
		t.Errorf("hostPath subPath mount = %s", m.HostPath)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "sub")); err != nil {
		t.Errorf("DirectoryOrCreate/subPath not created: %v", err)
	}
	if m, _ := mountAt(spec, "/usr/share/nginx"); fileExists(filepath.Join(m.HostPath, "other")) {
		t.Error("configMap item list ignored")
	}

	// A configMap change reaches the volume at the next refresh.
	cm, _ := h.client.CoreV1().ConfigMaps("default").Get(h.ctx, "web-conf", metav1.GetOptions{})
	cm.Data["index.html"] = "changed"
	if _, err := h.client.CoreV1().ConfigMaps("default").Update(h.ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.step(w, time.Minute)
	check("/usr/share/nginx", "html/index.html", "changed", true)
}

func TestMissingConfigMapVolumeBlocksStart(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("novol", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}}}}}
	}))
	h.sync(w)
	if len(h.rt.Running()) != 0 {
		t.Fatal("started without its volume")
	}
	if !hasEvent(h.events(), `Warning FailedMount MountVolume.SetUp failed for volume "conf" : configmap "absent" not found`) {
		t.Error("no FailedMount event")
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
