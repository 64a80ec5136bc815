package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/registry/rest"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// KubeletStreams locates the streaming server of a node's kubelet (kubelet-lite's
// StreamingHandler): its base URL and a transport whose dialer reaches it. pods/exec,
// pods/attach and pods/portforward are proxied there, as kube-apiserver proxies them to
// the kubelet.
type KubeletStreams func(ctx context.Context, nodeName string) (*url.URL, *http.Transport, error)

// kubeletStreams holds the locator the lab registers; the standalone API server has none.
type kubeletStreams struct {
	mu  sync.RWMutex
	src KubeletStreams
}

// SetKubeletStreams makes pods/exec, pods/attach and pods/portforward reach the kubelets
// through src.
func (s *Server) SetKubeletStreams(src KubeletStreams) {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	s.streams.src = src
}

// streamMethods are the verbs kubectl uses for the streaming subresources.
var streamMethods = []string{http.MethodGet, http.MethodPost}

// streamLocation finds the kubelet URL for a streaming request on pod name, as upstream's
// pod.streamLocation does (container defaulting and its error messages included).
func (s *Server) streamLocation(ctx context.Context, pods *REST, name, container, kind string, params url.Values) (*url.URL, *http.Transport, error) {
	obj, err := pods.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	pod := obj.(*corev1.Pod)
	if kind != "portForward" {
		if container, err = streamContainer(pod, container); err != nil {
			return nil, nil, err
		}
	}
	if pod.Spec.NodeName == "" {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	s.streams.mu.RLock()
	src := s.streams.src
	s.streams.mu.RUnlock()
	if src == nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("pod %q runs on node %q, and no kubelet serves streams in this API server (run the lab with `svclab up`)", pod.Name, pod.Spec.NodeName))
	}
	base, transport, err := src(ctx, pod.Spec.NodeName)
	if err != nil {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("kubelet of node %q: %v", pod.Spec.NodeName, err))
	}
	loc := *base
	loc.Path = strings.TrimSuffix(loc.Path, "/") + "/" + kind + "/" + pod.Namespace + "/" + pod.Name
	if container != "" {
		loc.Path += "/" + container
	}
	loc.RawQuery = params.Encode()
	return &loc, transport, nil
}

// streamContainer picks the container of an exec or attach, as the API server does.
func streamContainer(pod *corev1.Pod, name string) (string, error) {
	if name != "" {
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if c.Name == name {
				return name, nil
			}
		}
		for _, c := range pod.Spec.EphemeralContainers {
			if c.Name == name {
				return name, nil
			}
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
	}
	switch len(pod.Spec.Containers) {
	case 1:
		return pod.Spec.Containers[0].Name, nil
	case 0:
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
	}
	names := func(cs []corev1.Container) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return strings.Join(out, " ")
	}
	msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, names(pod.Spec.Containers))
	if len(pod.Spec.InitContainers) > 0 {
		msg += fmt.Sprintf(" or one of the init containers: [%s]", names(pod.Spec.InitContainers))
	}
	return "", apierrors.NewBadRequest(msg)
}

// streamParams are kubelet's query parameters for the streams asked for.
func streamParams(stdin, stdout, stderr, tty bool) url.Values {
	q := url.Values{}
	for key, on := range map[string]bool{"input": stdin, "output": stdout, "error": stderr, "tty": tty} {
		if on {
			q.Set(key, "1")
		}
	}
	return q
}

// execREST serves pods/exec.
type execREST struct {
	s    *Server
	pods *REST
}

var _ rest.Connecter = (*execREST)(nil)

// New is the options kind, as upstream: the OpenAPI operation then carries
// PodExecOptions, not Pod, and kubectl still finds fieldValidation on Pod POSTs.
func (r *execREST) New() runtime.Object { return &corev1.PodExecOptions{} }
func (r *execREST) Destroy()            {}
func (r *execREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodExecOptions{}, false, ""
}
func (r *execREST) ConnectMethods() []string { return streamMethods }

// Connect proxies the session to the kubelet: SPDY upgrades pass through; WebSocket v5
// (kubectl 1.30+) is translated to SPDY, as kube-apiserver does.
func (r *execREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := options.(*corev1.PodExecOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	if len(o.Command) == 0 {
		return nil, apierrors.NewBadRequest("you must specify at least one command for the container")
	}
	params := streamParams(o.Stdin, o.Stdout, o.Stderr, o.TTY)
	for _, c := range o.Command {
		params.Add("command", c)
	}
	loc, transport, err := r.s.streamLocation(ctx, r.pods, name, o.Container, "exec", params)
	if err != nil {
		return nil, err
	}
	return translated(loc, transport, responder, streamOptions{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY}), nil
}

// translated is the upgrade proxy, with WebSocket v5 requests translated to SPDY.
func translated(loc *url.URL, transport http.RoundTripper, responder rest.Responder, opts streamOptions) http.Handler {
	h := upgradeProxy(loc, transport, responder)
	t := &v5Translator{loc: loc, transport: transport, opts: opts}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if wsstream.IsWebSocketRequestWithStreamCloseProtocol(req) {
			t.ServeHTTP(w, req)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// attachREST serves pods/attach.
type attachREST struct {
	s    *Server
	pods *REST
}

var _ rest.Connecter = (*attachREST)(nil)

func (r *attachREST) New() runtime.Object { return &corev1.PodAttachOptions{} }
func (r *attachREST) Destroy()            {}
func (r *attachREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodAttachOptions{}, false, ""
}
func (r *attachREST) ConnectMethods() []string { return streamMethods }

func (r *attachREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := options.(*corev1.PodAttachOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	params := streamParams(o.Stdin, o.Stdout, o.Stderr, o.TTY)
	loc, transport, err := r.s.streamLocation(ctx, r.pods, name, o.Container, "attach", params)
	if err != nil {
		return nil, err
	}
	return translated(loc, transport, responder, streamOptions{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY}), nil
}

// portForwardREST serves pods/portforward.
type portForwardREST struct {
	s    *Server
	pods *REST
}

var _ rest.Connecter = (*portForwardREST)(nil)

func (r *portForwardREST) New() runtime.Object { return &corev1.PodPortForwardOptions{} }
func (r *portForwardREST) Destroy()            {}
func (r *portForwardREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodPortForwardOptions{}, false, ""
}
func (r *portForwardREST) ConnectMethods() []string { return streamMethods }

// Connect proxies port-forward to the kubelet over SPDY. WebSocket tunnelling (kubectl
// 1.31+ tries "SPDY/3.1+portforward.k8s.io" first) is refused, and kubectl falls back.
func (r *portForwardREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := options.(*corev1.PodPortForwardOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	params := url.Values{}
	for _, p := range o.Ports {
		params.Add("port", strconv.Itoa(int(p)))
	}
	loc, transport, err := r.s.streamLocation(ctx, r.pods, name, "", "portForward", params)
	if err != nil {
		return nil, err
	}
	h := upgradeProxy(loc, transport, responder)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if wsstream.IsWebSocketRequest(req) {
			// A non-101 answer makes kubectl fall back to SPDY.
			responder.Error(apierrors.NewBadRequest("port-forward over WebSocket is not served here: use SPDY (kubectl falls back to it)"))
			return
		}
		h.ServeHTTP(w, req)
	}), nil
}

// longRunningCheck is upstream's: watches, proxies, logs and streams are not cut off by the
// request timeout.
var longRunningCheck = genericfilters.BasicLongRunningRequestCheck(
	sets.NewString("watch", "proxy"), sets.NewString("attach", "exec", "proxy", "log", "portforward"))
