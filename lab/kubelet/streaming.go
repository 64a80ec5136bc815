package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/runtime"
)

// streamIdleTimeout closes an exec, attach or port-forward session nobody used for this
// long (kubelet's --streaming-connection-idle-timeout default).
const streamIdleTimeout = 4 * time.Hour

// noTTYRuntimes are runtimes whose Exec ignores ExecRequest.TTY: asking them for a terminal
// is an error kubectl shows instead of a session that silently has none.
var noTTYRuntimes = map[string]bool{"process": true}

// StreamingHandler serves kubelet's streaming API, which the API server proxies pods/exec,
// pods/attach and pods/portforward to (SPDY, and the older WebSocket protocols):
//
//	/exec/NAMESPACE/POD/CONTAINER?command=…&input=1&output=1&error=1&tty=1
//	/attach/NAMESPACE/POD/CONTAINER?input=1&output=1&error=1&tty=1
//	/portForward/NAMESPACE/POD
func (k *Kubelet) StreamingHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", k.serveExec)
	mux.HandleFunc("/attach/{namespace}/{pod}/{container}", k.serveAttach)
	mux.HandleFunc("/portForward/{namespace}/{pod}", k.servePortForward)
	return mux
}

func (k *Kubelet) serveExec(w http.ResponseWriter, req *http.Request) {
	pod, id, err := k.streamTarget(req)
	if err != nil {
		http.Error(w, err.Error(), streamErrorCode(err))
		return
	}
	opts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := req.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "you must specify at least one command for the container", http.StatusBadRequest)
		return
	}
	x := &streamExecutor{k: k, pod: pod, id: id}
	remotecommand.ServeExec(w, req, x, pod.Name, string(pod.UID), req.PathValue("container"), cmd, opts,
		streamIdleTimeout, remotecommand.DefaultStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (k *Kubelet) serveAttach(w http.ResponseWriter, req *http.Request) {
	pod, id, err := k.streamTarget(req)
	if err != nil {
		http.Error(w, err.Error(), streamErrorCode(err))
		return
	}
	opts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	x := &streamExecutor{k: k, pod: pod, id: id}
	remotecommand.ServeAttach(w, req, x, pod.Name, string(pod.UID), req.PathValue("container"), opts,
		streamIdleTimeout, remotecommand.DefaultStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (k *Kubelet) servePortForward(w http.ResponseWriter, req *http.Request) {
	pod, err := k.getPod(req.Context(), req.PathValue("namespace"), req.PathValue("pod"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	netns, ip, ok := k.podSandbox(pod)
	if !ok {
		http.Error(w, fmt.Sprintf("pod %q has no network namespace on node %q yet", pod.Name, k.cfg.NodeName), http.StatusServiceUnavailable)
		return
	}
	opts, err := portforward.NewV4Options(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := &podForwarder{k: k, netns: netns, ip: ip}
	portforward.ServePortForward(w, req, f, pod.Name, string(pod.UID), opts,
		streamIdleTimeout, remotecommand.DefaultStreamCreationTimeout, portforward.SupportedProtocols)
}

// errNotRunning is returned for a container that has no running instance.
var errNotRunning = errors.New("container is not running")

func streamErrorCode(err error) int {
	if errors.Is(err, errNotRunning) {
		return http.StatusConflict
	}
	return http.StatusNotFound
}

// streamTarget finds the pod and the runtime ID of the running container the path names.
func (k *Kubelet) streamTarget(req *http.Request) (*corev1.Pod, string, error) {
	pod, err := k.getPod(req.Context(), req.PathValue("namespace"), req.PathValue("pod"))
	if err != nil {
		return nil, "", err
	}
	name := req.PathValue("container")
	if containerSpec(pod, name) == nil {
		return nil, "", fmt.Errorf("container %s is not valid for pod %s", name, pod.Name)
	}
	id, running := k.instance(pod, name)
	if !running {
		return nil, "", fmt.Errorf("container %q in pod %q: %w", name, pod.Name, errNotRunning)
	}
	return pod, id, nil
}

// worker returns the pod's worker (nil when this kubelet runs no such pod).
func (k *Kubelet) worker(pod *corev1.Pod) *podWorker {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.workers[pod.UID]
}

// instance returns the runtime ID of a container's latest instance and whether it runs.
func (k *Kubelet) instance(pod *corev1.Pod, name string) (string, bool) {
	w := k.worker(pod)
	if w == nil {
		return "", false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.st.all() {
		if c.name == name {
			return c.id, c.running && c.id != ""
		}
	}
	return "", false
}

// podSandbox returns the pod's network namespace and IP once its network is set up.
func (k *Kubelet) podSandbox(pod *corev1.Pod) (string, netip.Addr, bool) {
	w := k.worker(pod)
	if w == nil {
		return "", netip.Addr{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.netns, w.st.ip, w.st.networkReady && !w.st.torndown
}

// streamExecutor runs exec and attach sessions in one container instance.
type streamExecutor struct {
	k   *Kubelet
	pod *corev1.Pod
	id  string
}

var (
	_ remotecommand.Executor = (*streamExecutor)(nil)
	_ remotecommand.Attacher = (*streamExecutor)(nil)
)

// ExecInContainer implements remotecommand.Executor through runtime.Runtime.Exec; a non-zero
// exit code becomes a utilexec.ExitError so it reaches kubectl as its own exit code.
func (x *streamExecutor) ExecInContainer(ctx context.Context, _, _, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	go drainResize(resize)
	if tty {
		if rt := x.runtimeName(ctx); noTTYRuntimes[rt] {
			return fmt.Errorf("the %s runtime cannot give container %q a terminal: run kubectl exec without -t (-i alone works)", rt, container)
		}
	}
	req := runtime.ExecRequest{Cmd: cmd, TTY: tty}
	// Interfaces holding nil stay nil: the runtime then discards (or gives no stdin).
	if in != nil {
		req.Stdin = in
	}
	if out != nil {
		req.Stdout = out
	}
	if errOut != nil {
		req.Stderr = errOut
	}
	code, err := x.k.rt.Exec(ctx, x.id, req)
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command '%s' exited with %d", strings.Join(cmd, " "), code), Code: code}
	}
	return nil
}

// AttachContainer implements remotecommand.Attacher: runtimes keep no stdin open and write
// output to the log file, so attach follows the container's output from now on until the
// container exits or the client leaves.
func (x *streamExecutor) AttachContainer(ctx context.Context, _, _, container string, in io.Reader, out, errOut io.WriteCloser, _ bool, resize <-chan remotecommand.TerminalSize) error {
	go drainResize(resize)
	if in != nil {
		return fmt.Errorf("the %s runtime keeps no stdin open for container %q: run kubectl attach without -i (or use kubectl exec -i)", x.runtimeName(ctx), container)
	}
	w := &clientWriter{w: io.Discard}
	switch {
	case out != nil:
		w.w = out
	case errOut != nil:
		w.w = errOut
	}
	opts := &corev1.PodLogOptions{Container: container, Follow: true, TailLines: ptr.To[int64](0)}
	err := x.k.Logs(ctx, x.pod.Namespace, x.pod.Name, opts, w)
	if ctx.Err() != nil || w.failed {
		return nil // the client left
	}
	return err
}

// clientWriter remembers that writing to the client failed (it went away).
type clientWriter struct {
	w      io.Writer
	failed bool
}

func (c *clientWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.failed = true
	}
	return n, err
}

// runtimeName names the runtime running the pod's containers.
func (x *streamExecutor) runtimeName(ctx context.Context) string {
	handler, err := x.k.runtimeHandler(ctx, x.pod)
	if err != nil {
		return x.k.rt.Name()
	}
	return x.k.imageRuntime(handler).Name()
}

// drainResize consumes terminal resize events: runtime.ExecRequest has no resize hook.
func drainResize(resize <-chan remotecommand.TerminalSize) {
	if resize == nil {
		return
	}
	for range resize {
	}
}

// podForwarder connects port-forward streams to a port of one pod.
type podForwarder struct {
	k     *Kubelet
	netns string
	ip    netip.Addr
}

var _ portforward.PortForwarder = (*podForwarder)(nil)

// PortForward implements portforward.PortForwarder: like a CRI runtime it dials localhost
// inside the pod's network namespace (so servers bound to 127.0.0.1 are reached), then the
// pod IP.
func (f *podForwarder) PortForward(ctx context.Context, name, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p := strconv.Itoa(int(port))
	conn, err := f.k.dialer.DialContext(dctx, f.netns, "tcp", net.JoinHostPort("127.0.0.1", p))
	if err != nil && f.ip.IsValid() {
		var err2 error
		if conn, err2 = f.k.dialer.DialContext(dctx, f.netns, "tcp", net.JoinHostPort(f.ip.String(), p)); err2 == nil {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("failed to connect to port %d of pod %q: %w", port, name, err)
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(conn, stream)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, err = io.Copy(stream, conn)
	stream.Close()
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(time.Second):
		// The client keeps its side open after the pod closed: the stream is closed, end.
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("copy from port %d of pod %q: %w", port, name, err)
	}
	return nil
}
