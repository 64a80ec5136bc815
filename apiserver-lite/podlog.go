package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// PodLogSource streams a container's log from the node running the pod (the lab's
// kubelet-lite). opts.Container is always set.
type PodLogSource func(ctx context.Context, nodeName, namespace, pod string, opts *corev1.PodLogOptions, w io.Writer) error

// podLogSources holds the source the lab registers; the standalone API server has none.
type podLogSources struct {
	mu  sync.RWMutex
	src PodLogSource
}

// SetPodLogSource makes pods/log (kubectl logs) read from src.
func (s *Server) SetPodLogSource(src PodLogSource) {
	s.podLogs.mu.Lock()
	defer s.podLogs.mu.Unlock()
	s.podLogs.src = src
}

// logREST serves pods/log.
type logREST struct {
	pods *REST
	logs *podLogSources
}

var (
	_ rest.GetterWithOptions = (*logREST)(nil)
	_ rest.StorageMetadata   = (*logREST)(nil)
)

func (r *logREST) New() runtime.Object { return &corev1.Pod{} }
func (r *logREST) Destroy()            {}
func (r *logREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}
func (r *logREST) ProducesMIMETypes(verb string) []string { return []string{"text/plain"} }
func (r *logREST) ProducesObject(verb string) any         { return "" }

func (r *logREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*corev1.PodLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	obj, err := r.pods.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	container, err := logContainer(pod, opts.Container)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, pod.Name))
	}
	r.logs.mu.RLock()
	src := r.logs.src
	r.logs.mu.RUnlock()
	if src == nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %q runs on node %q, and no kubelet serves logs in this API server (run the lab with `svclab up`)", pod.Name, pod.Spec.NodeName))
	}
	o := opts.DeepCopy()
	o.Container = container
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	return &logStream{src: src, node: pod.Spec.NodeName, namespace: ns, pod: pod.Name, opts: o}, nil
}

// logContainer picks the container kubectl asked for, as the API server does.
func logContainer(pod *corev1.Pod, name string) (string, error) {
	if name != "" {
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if c.Name == name {
				return name, nil
			}
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Name, nil
	}
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " ")))
}

// logStream is the response body of pods/log.
type logStream struct {
	src                  PodLogSource
	node, namespace, pod string
	opts                 *corev1.PodLogOptions
}

func (s *logStream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (s *logStream) DeepCopyObject() runtime.Object   { c := *s; return &c }

func (s *logStream) InputStream(ctx context.Context, apiVersion, acceptHeader string) (io.ReadCloser, bool, string, error) {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(s.src(ctx, s.node, s.namespace, s.pod, s.opts, pw))
	}()
	return pr, s.opts.Follow, "text/plain", nil
}

// registerPodLogOptions teaches the scheme to read PodLogOptions from a query string (the
// conversion lives in k8s.io/kubernetes upstream, not in k8s.io/api).
func registerPodLogOptions(s *runtime.Scheme) {
	err := s.AddConversionFunc((*url.Values)(nil), (*corev1.PodLogOptions)(nil), func(a, b any, _ conversion.Scope) error {
		return podLogOptionsFromQuery(*a.(*url.Values), b.(*corev1.PodLogOptions))
	})
	if err != nil {
		panic(err)
	}
}

func podLogOptionsFromQuery(q url.Values, o *corev1.PodLogOptions) error {
	var err error
	boolean := func(key string) bool {
		v := q.Get(key)
		if v == "" {
			return false
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil && err == nil {
			err = apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for %s", v, key))
		}
		return b
	}
	integer := func(key string) *int64 {
		v := q.Get(key)
		if v == "" {
			return nil
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil && err == nil {
			err = apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for %s", v, key))
		}
		return &n
	}
	o.Container = q.Get("container")
	o.Follow = boolean("follow")
	o.Previous = boolean("previous")
	o.Timestamps = boolean("timestamps")
	o.InsecureSkipTLSVerifyBackend = boolean("insecureSkipTLSVerifyBackend")
	o.SinceSeconds = integer("sinceSeconds")
	o.TailLines = integer("tailLines")
	o.LimitBytes = integer("limitBytes")
	if v := q.Get("sinceTime"); v != "" {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for sinceTime", v))
		}
		mt := metav1.NewTime(t)
		o.SinceTime = &mt
	}
	return err
}
