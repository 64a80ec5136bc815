package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

// containerConfig is everything the runtime needs to start one attempt of a container.
func (w *podWorker) containerConfig(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, attempt int32) (runtime.ContainerSpec, error) {
	k := w.k
	env, err := w.k.makeEnv(ctx, pod, spec, w.st.ip)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	vars := map[string]string{}
	pairs := make([]string, 0, len(env))
	for _, e := range env {
		vars[e.Name] = e.Value
		pairs = append(pairs, e.Name+"="+e.Value)
	}
	expand := func(in []string) []string {
		if in == nil {
			return nil
		}
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = expandVars(s, vars)
		}
		return out
	}
	mounts, err := w.mounts(pod, spec)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	return runtime.ContainerSpec{
		ID:     runtimeID(pod.UID, spec.Name, attempt),
		PodUID: string(pod.UID), PodName: pod.Name, PodNamespace: pod.Namespace, ContainerName: spec.Name,
		Image: spec.Image, Command: expand(spec.Command), Args: expand(spec.Args),
		Env: pairs, WorkingDir: spec.WorkingDir,
		NetNSPath: w.st.netns, Hostname: k.podHostname(pod),
		Mounts: mounts, LogPath: k.logPath(pod, spec.Name, attempt),
	}, nil
}

// podHostname is the container's hostname: the node's for hostNetwork pods, else
// spec.hostname or the pod name (at most 63 characters).
func (k *Kubelet) podHostname(pod *corev1.Pod) string {
	if pod.Spec.HostNetwork {
		return k.cfg.NodeName
	}
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// makeEnv builds a container's environment as upstream's makeEnvironmentVariables: envFrom,
// then env (with $(VAR) expansion and valueFrom sources), then the service link variables
// not already defined.
func (k *Kubelet) makeEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP netip.Addr) ([]corev1.EnvVar, error) {
	svcEnv := k.serviceEnv(pod)
	var out []corev1.EnvVar
	vars := map[string]string{}
	set := func(name, value string) {
		if _, ok := vars[name]; ok {
			for i := range out {
				if out[i].Name == name {
					out[i].Value = value
				}
			}
		} else {
			out = append(out, corev1.EnvVar{Name: name, Value: value})
		}
		vars[name] = value
	}
	cms := map[string]*corev1.ConfigMap{}
	secrets := map[string]*corev1.Secret{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := k.configMap(ctx, pod.Namespace, from.ConfigMapRef.Name, cms)
			if err != nil {
				if optional(from.ConfigMapRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			for _, key := range sortedKeys(cm.Data) {
				if name := from.Prefix + key; validEnvName(name) {
					set(name, cm.Data[key])
				}
			}
		case from.SecretRef != nil:
			s, err := k.secret(ctx, pod.Namespace, from.SecretRef.Name, secrets)
			if err != nil {
				if optional(from.SecretRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			for _, key := range sortedKeys(s.Data) {
				if name := from.Prefix + key; validEnvName(name) {
					set(name, string(s.Data[key]))
				}
			}
		}
	}
	lookup := map[string]string{}
	for _, e := range svcEnv {
		lookup[e.Name] = e.Value
	}
	for _, e := range c.Env {
		value := e.Value
		if e.ValueFrom == nil {
			for k, v := range vars {
				lookup[k] = v
			}
			value = expandVars(value, lookup)
		} else {
			v, skip, err := k.envSource(ctx, pod, c, e, podIP, cms, secrets)
			if err != nil {
				return nil, err
			}
			if skip {
				continue
			}
			value = v
		}
		set(e.Name, value)
	}
	for _, e := range svcEnv {
		if _, ok := vars[e.Name]; !ok {
			set(e.Name, e.Value)
		}
	}
	// The built-in agent names its pod, namespace and node in every answer; the kubelet
	// hands it what the downward API would, so `kubectl create deployment` needs no env.
	if image.IsBuiltin(c.Image) {
		for _, kv := range [][2]string{{"SVCLAB_POD_NAME", pod.Name}, {"SVCLAB_POD_NAMESPACE", pod.Namespace},
			{"SVCLAB_NODE_NAME", pod.Spec.NodeName}, {"SVCLAB_POD_IP", podIPString(podIP)}} {
			if _, ok := vars[kv[0]]; !ok && kv[1] != "" {
				set(kv[0], kv[1])
			}
		}
	}
	return out, nil
}

func podIPString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

// envSource resolves one env valueFrom; skip is true for a missing optional key.
func (k *Kubelet) envSource(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, podIP netip.Addr,
	cms map[string]*corev1.ConfigMap, secrets map[string]*corev1.Secret) (value string, skip bool, err error) {
	src := e.ValueFrom
	switch {
	case src.FieldRef != nil:
		v, err := k.podField(pod, src.FieldRef.FieldPath, podIP)
		return v, false, err
	case src.ResourceFieldRef != nil:
		v, err := k.resourceField(c, src.ResourceFieldRef)
		return v, false, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := k.configMap(ctx, pod.Namespace, ref.Name, cms)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", true, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if b, ok := cm.BinaryData[ref.Key]; ok {
				return string(b), false, nil
			}
			if optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, false, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := k.secret(ctx, pod.Namespace, ref.Name, secrets)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", true, nil
			}
			return "", false, err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), false, nil
	}
	return "", false, nil
}

// podField resolves a downward-API field path (env and downwardAPI volumes).
func (k *Kubelet) podField(pod *corev1.Pod, path string, podIP netip.Addr) (string, error) {
	ip := ""
	if podIP.IsValid() {
		ip = podIP.String()
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return k.cfg.NodeIP.String(), nil
	case "status.podIP", "status.podIPs":
		return ip, nil
	}
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", path)
}

// subscript parses "prefix['key']".
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// formatMap renders labels or annotations as the downward API does: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, key := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", key, m[key])
	}
	return b.String()
}

// resourceField resolves resourceFieldRef; unset limits default to the node's allocatable.
func (k *Kubelet) resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	var ok bool
	switch ref.Resource {
	case "limits.cpu", "requests.cpu", "limits.memory", "requests.memory", "limits.ephemeral-storage", "requests.ephemeral-storage":
		kind, name, _ := strings.Cut(ref.Resource, ".")
		list := c.Resources.Limits
		if kind == "requests" {
			list = c.Resources.Requests
		}
		q, ok = list[corev1.ResourceName(name)]
		if !ok {
			q = k.capacity()[corev1.ResourceName(name)]
			if kind == "requests" && name == "cpu" {
				q = resource.MustParse("0")
			}
		}
	default:
		return "", fmt.Errorf("unsupported container resource: %s", ref.Resource)
	}
	if strings.HasSuffix(ref.Resource, "cpu") {
		// CPU rounds up to whole divisors, as upstream's ExtractResourceValueByContainerName.
		v := (q.MilliValue() + divisor.MilliValue() - 1) / divisor.MilliValue()
		return strconv.FormatInt(v, 10), nil
	}
	v := (q.Value() + divisor.Value() - 1) / divisor.Value()
	return strconv.FormatInt(v, 10), nil
}

func optional(b *bool) bool { return b != nil && *b }

func validEnvName(name string) bool { return len(validation.IsEnvVarName(name)) == 0 }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (k *Kubelet) configMap(ctx context.Context, ns, name string, cache map[string]*corev1.ConfigMap) (*corev1.ConfigMap, error) {
	if cm, ok := cache[name]; ok {
		return cm, nil
	}
	cm, err := k.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(corev1.Resource("configmap"), name)
		}
		return nil, fmt.Errorf("get configmap %s/%s: %w", ns, name, err)
	}
	if cache != nil {
		cache[name] = cm
	}
	return cm, nil
}

func (k *Kubelet) secret(ctx context.Context, ns, name string, cache map[string]*corev1.Secret) (*corev1.Secret, error) {
	if s, ok := cache[name]; ok {
		return s, nil
	}
	s, err := k.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
		}
		return nil, fmt.Errorf("get secret %s/%s: %w", ns, name, err)
	}
	if cache != nil {
		cache[name] = s
	}
	return s, nil
}

// expandVars is upstream's expansion.Expand: $(VAR) becomes VAR's value when defined (else it
// stays as written) and $$ escapes a $.
func expandVars(in string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			b.WriteByte(in[i])
			continue
		}
		switch in[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(in[i+2:], ')')
			if end < 0 {
				b.WriteString(in[i:])
				return b.String()
			}
			name := in[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
