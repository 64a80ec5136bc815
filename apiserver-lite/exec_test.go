package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	criremote "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// recordingResponder is a rest.Responder writing errors as the API server would (status
// code and message).
type recordingResponder struct {
	w    http.ResponseWriter
	errs []error
}

func (r *recordingResponder) Object(code int, obj runtime.Object) { r.w.WriteHeader(code) }
func (r *recordingResponder) Error(err error) {
	r.errs = append(r.errs, err)
	code := http.StatusInternalServerError
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		code = int(st.Status().Code)
	}
	http.Error(r.w, err.Error(), code)
}

func TestConnectOptionsFromQuery(t *testing.T) {
	for _, tc := range []struct {
		query url.Values
		into  runtime.Object
		want  runtime.Object
	}{
		{url.Values{"command": {"/svclab", "version"}, "container": {"agent"}, "stdin": {"true"}, "stdout": {"true"}, "tty": {"false"}},
			&corev1.PodExecOptions{}, &corev1.PodExecOptions{Command: []string{"/svclab", "version"}, Container: "agent", Stdin: true, Stdout: true}},
		{url.Values{"stdout": {"1"}, "stderr": {"true"}}, &corev1.PodAttachOptions{}, &corev1.PodAttachOptions{Stdout: true, Stderr: true}},
		{url.Values{"ports": {"80", "8080"}}, &corev1.PodPortForwardOptions{}, &corev1.PodPortForwardOptions{Ports: []int32{80, 8080}}},
		{url.Values{"path": {"/x/y"}}, &corev1.ServiceProxyOptions{}, &corev1.ServiceProxyOptions{Path: "/x/y"}},
		{url.Values{"path": {"/"}}, &corev1.PodProxyOptions{}, &corev1.PodProxyOptions{Path: "/"}},
	} {
		if err := ParameterCodec.DecodeParameters(tc.query, corev1.SchemeGroupVersion, tc.into); err != nil {
			t.Errorf("%T from %v: %v", tc.into, tc.query, err)
			continue
		}
		if !reflect.DeepEqual(tc.into, tc.want) {
			t.Errorf("%T from %v = %+v, want %+v", tc.into, tc.query, tc.into, tc.want)
		}
	}
	err := ParameterCodec.DecodeParameters(url.Values{"stdin": {"maybe"}}, corev1.SchemeGroupVersion, &corev1.PodExecOptions{})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("stdin=maybe: %v, want a bad request", err)
	}
}

func TestStreamContainer(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "a"}, {Name: "b"}},
	}}
	pod.Name = "web"
	for _, tc := range []struct{ name, want, err string }{
		{"b", "b", ""},
		{"init", "init", ""},
		{"c", "", "container c is not valid for pod web"},
		{"", "", "a container name must be specified for pod web, choose one of: [a b] or one of the init containers: [init]"},
	} {
		got, err := streamContainer(pod, tc.name)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("streamContainer(%q) = %q, %v; want %q, %q", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// fakeExec is the kubelet side: it prints its command and exits with the code in it.
type fakeExec struct{}

func (fakeExec) ExecInContainer(_ context.Context, _, _, _ string, cmd []string, _ io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan criremote.TerminalSize, _ time.Duration) error {
	fmt.Fprint(out, strings.Join(cmd, " "))
	if cmd[len(cmd)-1] == "fail" {
		return utilexec.CodeExitError{Err: errors.New("failed"), Code: 3}
	}
	return nil
}

// TestExecThroughTheAPIServer runs exec over WebSocket v5 (kubectl's default, translated to
// SPDY) and over SPDY (passed through) against a kubelet-like SPDY server.
func TestExecThroughTheAPIServer(t *testing.T) {
	kubelet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts, err := criremote.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		criremote.ServeExec(w, r, fakeExec{}, "web", "uid", "agent", r.URL.Query()["command"], opts,
			time.Minute, 10*time.Second, criremote.SupportedStreamingProtocols)
	}))
	defer kubelet.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cmd := r.URL.Query()["command"]
		q := streamParams(false, true, false, false)
		q["command"] = cmd
		loc, _ := url.Parse(kubelet.URL + "/exec/default/web/agent?" + q.Encode())
		translated(loc, http.DefaultTransport, &recordingResponder{w: w}, streamOptions{Stdout: true}).ServeHTTP(w, r)
	}))
	defer api.Close()

	cfg := &restclient.Config{Host: api.URL}
	for _, proto := range []string{"websocket", "spdy"} {
		for _, last := range []string{"ok", "fail"} {
			u := api.URL + "/exec?command=run&command=" + last
			var x remotecommand.Executor
			var err error
			if proto == "websocket" {
				x, err = remotecommand.NewWebSocketExecutor(cfg, "GET", u)
			} else {
				pu, _ := url.Parse(u)
				x, err = remotecommand.NewSPDYExecutor(cfg, "POST", pu)
			}
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = x.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out})
			cancel()
			if out.String() != "run "+last {
				t.Errorf("%s %s: stdout %q", proto, last, out.String())
			}
			var exitErr exec.CodeExitError
			switch {
			case last == "ok" && err != nil:
				t.Errorf("%s: exit 0 came back as %v", proto, err)
			case last == "fail" && (!errors.As(err, &exitErr) || exitErr.Code != 3):
				t.Errorf("%s: exit 3 came back as %v", proto, err)
			}
		}
	}

	// A plain request is not an exec session.
	resp, err := http.Post(api.URL+"/exec?command=x", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Upgrade request required") {
		t.Errorf("plain POST: %d %q", resp.StatusCode, body)
	}
}
