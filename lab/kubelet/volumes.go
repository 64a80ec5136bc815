package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/runtime"
)

const (
	// ServiceAccountMountPath is where service-account credentials appear in containers.
	ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// implicitTokenVolume is the volume kubelet-lite adds when the API server did not inject
	// kube-api-access-xxxxx (ServiceAccount admission) and automounting is on.
	implicitTokenVolume = "kube-api-access-svclab"
	// volumeRefresh is how often configMap, secret and downward API volumes are rewritten.
	volumeRefresh = time.Minute
	// defaultTokenSeconds is what ServiceAccount admission requests for the default volume.
	defaultTokenSeconds = 3607
)

// podVolumes are the pod's volumes on the node's disk.
type podVolumes struct {
	dirs      map[string]string // volume name -> host path
	readOnly  map[string]bool   // volumes that are always mounted read-only
	written   time.Time
	tokenDue  map[string]time.Time // token file -> refresh time
	volumes   []corev1.Volume      // spec volumes plus the implicit token volume
	tokenAuto bool                 // the implicit token volume is mounted
}

// prepareVolumes writes the pod's volumes (first time, then every volumeRefresh or when a
// token is due) and the generated resolv.conf and hosts files.
func (w *podWorker) prepareVolumes(ctx context.Context, pod *corev1.Pod) error {
	k, s := w.k, &w.st
	now := k.clock.Now()
	if s.volumes != nil && now.Sub(s.volumes.written) < volumeRefresh && !tokenDue(s.volumes, now) {
		return nil
	}
	first := s.volumes == nil
	if first {
		v := &podVolumes{dirs: map[string]string{}, readOnly: map[string]bool{}, tokenDue: map[string]time.Time{}}
		v.volumes = pod.Spec.Volumes
		if k.automountToken(ctx, pod) {
			v.volumes = append(append([]corev1.Volume{}, pod.Spec.Volumes...), implicitTokenVolumeSpec())
			v.tokenAuto = true
		}
		s.volumes = v
	}
	v := s.volumes
	for _, vol := range v.volumes {
		if err := w.writeVolume(ctx, pod, vol, now); err != nil {
			msg := fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", vol.Name, err)
			k.rec.Event(pod, corev1.EventTypeWarning, "FailedMount", msg)
			k.log.Warn("volume setup failed", "pod", podKey(pod), "volume", vol.Name, "err", err)
			if first {
				s.volumes = nil // nothing starts until every volume is there
			}
			return fmt.Errorf("volume %s: %w", vol.Name, err)
		}
	}
	if err := k.writeNetworkFiles(pod, s.ip); err != nil {
		k.rec.Event(pod, corev1.EventTypeWarning, "FailedMount", fmt.Sprintf("write /etc/hosts and /etc/resolv.conf: %v", err))
		if first {
			s.volumes = nil
		}
		return err
	}
	v.written = now
	return nil
}

func tokenDue(v *podVolumes, now time.Time) bool {
	for _, due := range v.tokenDue {
		if !now.Before(due) {
			return true
		}
	}
	return false
}

// automountToken reports whether the pod gets the implicit service-account volume: no volume
// already provides a token at the standard path and automounting is not switched off on the
// pod or its service account.
func (k *Kubelet) automountToken(ctx context.Context, pod *corev1.Pod) bool {
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, m := range c.VolumeMounts {
			if m.MountPath == ServiceAccountMountPath || strings.HasPrefix(m.MountPath, ServiceAccountMountPath+"/") {
				return false
			}
		}
	}
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	name := pod.Spec.ServiceAccountName
	if name == "" {
		name = "default"
	}
	sa, err := k.client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err == nil && sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// implicitTokenVolumeSpec is ServiceAccount admission's kube-api-access volume.
func implicitTokenVolumeSpec() corev1.Volume {
	return corev1.Volume{Name: implicitTokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](defaultTokenSeconds), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}

// volumeDir is where a volume of the given kind lives, like /var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~<kind>/<name>.
func (k *Kubelet) volumeDir(pod *corev1.Pod, kind, name string) string {
	return filepath.Join(k.podDir(pod.UID), "volumes", "kubernetes.io~"+kind, name)
}

// writeVolume materialises one volume on disk.
func (w *podWorker) writeVolume(ctx context.Context, pod *corev1.Pod, vol corev1.Volume, now time.Time) error {
	k, v := w.k, w.st.volumes
	src := vol.VolumeSource
	switch {
	case src.HostPath != nil:
		v.dirs[vol.Name] = src.HostPath.Path
		return checkHostPath(src.HostPath)
	case src.EmptyDir != nil:
		dir := k.volumeDir(pod, "empty-dir", vol.Name)
		v.dirs[vol.Name] = dir
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		return os.Chmod(dir, 0o777)
	case src.ConfigMap != nil:
		files, err := w.configMapFiles(ctx, pod, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, mode(src.ConfigMap.DefaultMode))
		if err != nil {
			return err
		}
		return w.writeFiles(pod, vol.Name, "configmap", files)
	case src.Secret != nil:
		files, err := w.secretFiles(ctx, pod, src.Secret.SecretName, src.Secret.Items, src.Secret.Optional, mode(src.Secret.DefaultMode))
		if err != nil {
			return err
		}
		return w.writeFiles(pod, vol.Name, "secret", files)
	case src.DownwardAPI != nil:
		files, err := w.downwardFiles(pod, src.DownwardAPI.Items, mode(src.DownwardAPI.DefaultMode))
		if err != nil {
			return err
		}
		return w.writeFiles(pod, vol.Name, "downward-api", files)
	case src.Projected != nil:
		files, err := w.projectedFiles(ctx, pod, vol.Name, src.Projected, now)
		if err != nil {
			return err
		}
		return w.writeFiles(pod, vol.Name, "projected", files)
	default:
		// PersistentVolumeClaims and the like have no storage in the lab: an empty directory
		// stands in, and an event says so.
		dir := k.volumeDir(pod, "empty-dir", vol.Name)
		if _, ok := v.dirs[vol.Name]; !ok {
			k.rec.Event(pod, corev1.EventTypeWarning, "FailedMount",
				fmt.Sprintf("volume %q: svclab has no storage for this volume type; an empty directory stands in", vol.Name))
		}
		v.dirs[vol.Name] = dir
		return os.MkdirAll(dir, 0o777)
	}
}

func mode(m *int32) fs.FileMode {
	if m == nil {
		return 0o644
	}
	return fs.FileMode(*m)
}

// volumeFile is one file of a configMap, secret, downward API or projected volume.
type volumeFile struct {
	data []byte
	mode fs.FileMode
}

func (w *podWorker) configMapFiles(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, m fs.FileMode) (map[string]volumeFile, error) {
	cm, err := w.k.configMap(ctx, pod.Namespace, name, nil)
	if err != nil {
		if optional(opt) && apierrors.IsNotFound(err) {
			return map[string]volumeFile{}, nil
		}
		return nil, err
	}
	data := map[string][]byte{}
	for key, val := range cm.Data {
		data[key] = []byte(val)
	}
	for key, val := range cm.BinaryData {
		data[key] = val
	}
	return keyFiles(data, items, opt, m, "configmap", name)
}

func (w *podWorker) secretFiles(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, m fs.FileMode) (map[string]volumeFile, error) {
	s, err := w.k.secret(ctx, pod.Namespace, name, nil)
	if err != nil {
		if optional(opt) && apierrors.IsNotFound(err) {
			return map[string]volumeFile{}, nil
		}
		return nil, err
	}
	return keyFiles(s.Data, items, opt, m, "secret", name)
}

// keyFiles picks the files of a configMap or secret: every key, or the listed items.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, opt *bool, m fs.FileMode, kind, name string) (map[string]volumeFile, error) {
	out := map[string]volumeFile{}
	if len(items) == 0 {
		for key, val := range data {
			out[key] = volumeFile{val, m}
		}
		return out, nil
	}
	for _, it := range items {
		val, ok := data[it.Key]
		if !ok {
			if optional(opt) {
				continue
			}
			return nil, fmt.Errorf("configuration error: key %q not found in %s %q", it.Key, kind, name)
		}
		fm := m
		if it.Mode != nil {
			fm = fs.FileMode(*it.Mode)
		}
		out[it.Path] = volumeFile{val, fm}
	}
	return out, nil
}

func (w *podWorker) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, m fs.FileMode) (map[string]volumeFile, error) {
	out := map[string]volumeFile{}
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = w.k.podField(pod, it.FieldRef.FieldPath, w.st.ip)
		case it.ResourceFieldRef != nil:
			c := containerSpec(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("container %q not found in pod", it.ResourceFieldRef.ContainerName)
			}
			val, err = w.k.resourceField(c, it.ResourceFieldRef)
		}
		if err != nil {
			return nil, err
		}
		fm := m
		if it.Mode != nil {
			fm = fs.FileMode(*it.Mode)
		}
		out[it.Path] = volumeFile{[]byte(val), fm}
	}
	return out, nil
}

func (w *podWorker) projectedFiles(ctx context.Context, pod *corev1.Pod, volName string, p *corev1.ProjectedVolumeSource, now time.Time) (map[string]volumeFile, error) {
	m := mode(p.DefaultMode)
	out := map[string]volumeFile{}
	add := func(files map[string]volumeFile, err error) error {
		for name, f := range files {
			out[name] = f
		}
		return err
	}
	for _, src := range p.Sources {
		var err error
		switch {
		case src.ConfigMap != nil:
			err = add(w.configMapFiles(ctx, pod, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, m))
		case src.Secret != nil:
			err = add(w.secretFiles(ctx, pod, src.Secret.Name, src.Secret.Items, src.Secret.Optional, m))
		case src.DownwardAPI != nil:
			err = add(w.downwardFiles(pod, src.DownwardAPI.Items, m))
		case src.ServiceAccountToken != nil:
			err = w.tokenFile(ctx, pod, volName, src.ServiceAccountToken, m, now, out)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tokenFile requests a token bound to the pod (TokenRequest) when the current one is due,
// else keeps the file that is there.
func (w *podWorker) tokenFile(ctx context.Context, pod *corev1.Pod, volName string, src *corev1.ServiceAccountTokenProjection, m fs.FileMode, now time.Time, out map[string]volumeFile) error {
	k, v := w.k, w.st.volumes
	key := volName + "/" + src.Path
	if due, ok := v.tokenDue[key]; ok && now.Before(due) {
		if data, err := os.ReadFile(filepath.Join(k.volumeDir(pod, "projected", volName), src.Path)); err == nil {
			out[src.Path] = volumeFile{data, m}
			return nil
		}
	}
	ttl := int64(defaultTokenSeconds)
	if src.ExpirationSeconds != nil {
		ttl = *src.ExpirationSeconds
	}
	audiences := k.cfg.TokenAudiences
	if src.Audience != "" {
		audiences = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences: audiences, ExpirationSeconds: &ttl,
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	tr, err := k.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("failed to fetch token: %w", err)
	}
	if tr.Status.Token == "" {
		return errors.New("failed to fetch token: empty token in TokenRequest response")
	}
	// Refresh at 80% of the lifetime, as upstream's token manager.
	life := time.Duration(ttl) * time.Second
	if !tr.Status.ExpirationTimestamp.IsZero() {
		life = tr.Status.ExpirationTimestamp.Sub(now)
	}
	v.tokenDue[key] = now.Add(life * 8 / 10)
	out[src.Path] = volumeFile{[]byte(tr.Status.Token), m}
	return nil
}

// writeFiles makes a volume's directory hold exactly files. Each file is replaced by rename so
// a container sees whole files, and the directory itself stays (it is bind-mounted).
func (w *podWorker) writeFiles(pod *corev1.Pod, volName, kind string, files map[string]volumeFile) error {
	dir := w.k.volumeDir(pod, kind, volName)
	w.st.volumes.dirs[volName] = dir
	w.st.volumes.readOnly[volName] = true
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, f := range files {
		path := filepath.Join(dir, filepath.Clean("/"+name))
		if err := writeAtomic(path, f.data, f.mode); err != nil {
			return err
		}
	}
	// Drop files whose keys are gone.
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if _, ok := files[rel]; !ok {
			return os.Remove(path)
		}
		return nil
	})
}

// writeAtomic replaces path with data through a temporary file and a rename.
func writeAtomic(path string, data []byte, m fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return os.Chmod(path, m)
	}
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, data, m); err != nil {
		return err
	}
	if err := os.Chmod(tmp, m); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// checkHostPath applies a hostPath volume's type, creating what DirectoryOrCreate and
// FileOrCreate ask for.
func checkHostPath(hp *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	fi, err := os.Stat(hp.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if err != nil {
			return os.MkdirAll(hp.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if err != nil {
			if err := os.MkdirAll(filepath.Dir(hp.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(hp.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s does not exist", hp.Path)
	}
	switch {
	case (t == corev1.HostPathDirectory || t == corev1.HostPathDirectoryOrCreate) && !fi.IsDir():
		return fmt.Errorf("hostPath type check failed: %s is not a directory", hp.Path)
	case (t == corev1.HostPathFile || t == corev1.HostPathFileOrCreate) && !fi.Mode().IsRegular():
		return fmt.Errorf("hostPath type check failed: %s is not a file", hp.Path)
	case t == corev1.HostPathSocket && fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("hostPath type check failed: %s is not a socket file", hp.Path)
	case t == corev1.HostPathCharDev && fi.Mode()&fs.ModeCharDevice == 0:
		return fmt.Errorf("hostPath type check failed: %s is not a character device", hp.Path)
	case t == corev1.HostPathBlockDev && (fi.Mode()&fs.ModeDevice == 0 || fi.Mode()&fs.ModeCharDevice != 0):
		return fmt.Errorf("hostPath type check failed: %s is not a block device", hp.Path)
	}
	return nil
}

// mounts turns a container's volumeMounts (plus the implicit token volume, /etc/hosts and
// /etc/resolv.conf) into runtime mounts.
func (w *podWorker) mounts(pod *corev1.Pod, spec *corev1.Container) ([]runtime.Mount, error) {
	k, v := w.k, w.st.volumes
	var out []runtime.Mount
	taken := map[string]bool{}
	for _, m := range spec.VolumeMounts {
		dir, ok := v.dirs[m.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", m.Name, spec.Name)
		}
		if m.SubPath != "" {
			dir = filepath.Join(dir, filepath.Clean("/"+m.SubPath))
			if _, err := os.Stat(dir); err != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, fmt.Errorf("subPath %q of volume %q: %w", m.SubPath, m.Name, err)
				}
			}
		}
		out = append(out, runtime.Mount{HostPath: dir, ContainerPath: m.MountPath, ReadOnly: m.ReadOnly || v.readOnly[m.Name]})
		taken[m.MountPath] = true
	}
	if v.tokenAuto {
		out = append(out, runtime.Mount{HostPath: v.dirs[implicitTokenVolume], ContainerPath: ServiceAccountMountPath, ReadOnly: true})
	}
	if !taken["/etc/hosts"] {
		out = append(out, runtime.Mount{HostPath: k.hostsPath(pod), ContainerPath: "/etc/hosts"})
	}
	if !taken["/etc/resolv.conf"] {
		out = append(out, runtime.Mount{HostPath: k.resolvPath(pod), ContainerPath: "/etc/resolv.conf"})
	}
	return out, nil
}
