package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"

	"github.com/svclab/svclab/lab/kubelet/kubelettest"
	"github.com/svclab/svclab/lab/runtime"
)

// streamHarness runs pod "web" and serves the kubelet's streaming API over HTTP.
func streamHarness(t *testing.T, mods ...func(*corev1.Pod)) (*harness, *httptest.Server) {
	t.Helper()
	h := newHarness(t)
	w := h.start(testPod("web", mods...))
	h.sync(w)
	if _, ok := h.rt.Running()["app"]; !ok {
		t.Fatalf("container not started; runtime calls %v", h.rt.Calls())
	}
	srv := httptest.NewServer(h.k.StreamingHandler())
	t.Cleanup(srv.Close)
	return h, srv
}

// spdyStream runs one exec or attach session as kube-apiserver would (SPDY).
func spdyStream(t *testing.T, srv *httptest.Server, path string, q url.Values, opts remotecommand.StreamOptions) error {
	t.Helper()
	u, err := url.Parse(srv.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	x, err := remotecommand.NewSPDYExecutor(&restclient.Config{Host: srv.URL}, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return x.StreamWithContext(ctx, opts)
}

func TestStreamingExec(t *testing.T) {
	h, srv := streamHarness(t)
	var gotCmd []string
	h.rt.ExecFunc = func(id string, req runtime.ExecRequest) (int, error) {
		gotCmd = req.Cmd
		fmt.Fprint(req.Stdout, "out")
		fmt.Fprint(req.Stderr, "err")
		return 3, nil
	}
	var stdout, stderr bytes.Buffer
	q := url.Values{"command": {"/svclab", "version"}, "output": {"1"}, "error": {"1"}}
	err := spdyStream(t, srv, "/exec/default/web/app", q, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	var exitErr exec.CodeExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 3 {
		t.Fatalf("exec error = %v, want exit code 3", err)
	}
	if stdout.String() != "out" || stderr.String() != "err" || strings.Join(gotCmd, " ") != "/svclab version" {
		t.Errorf("stdout %q stderr %q cmd %q", stdout.String(), stderr.String(), gotCmd)
	}

	h.rt.ExecFunc = func(string, runtime.ExecRequest) (int, error) { return 0, nil }
	if err := spdyStream(t, srv, "/exec/default/web/app", q, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Errorf("exit 0: %v", err)
	}
}

func TestStreamingExecTTYNeedsARuntimeWithTerminals(t *testing.T) {
	h, srv := streamHarness(t)
	h.k.rt = kubelettest.NewRuntime("process", h.clock.Now)
	q := url.Values{"command": {"/svclab"}, "output": {"1"}, "tty": {"1"}}
	err := spdyStream(t, srv, "/exec/default/web/app", q, remotecommand.StreamOptions{Stdout: io.Discard, Tty: true})
	if err == nil || !strings.Contains(err.Error(), "the process runtime cannot give container \"app\" a terminal") {
		t.Errorf("exec -t on the process runtime: %v", err)
	}
}

func TestStreamingErrors(t *testing.T) {
	h, srv := streamHarness(t, func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever })
	for _, tc := range []struct{ path, want string }{
		{"/exec/default/web/nope?command=x&output=1", "container nope is not valid for pod web"},
		{"/exec/default/gone/app?command=x&output=1", "not found"},
		{"/exec/default/web/app?output=1", "at least one command"},
		{"/portForward/default/gone", "not found"},
	} {
		resp, err := srv.Client().Post(srv.URL+tc.path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %q, want an error containing %q", tc.path, resp.StatusCode, body, tc.want)
		}
	}
	_ = h.rt.Exit("app", 1)
	w := h.k.worker(h.pod("web"))
	h.sync(w)
	resp, err := srv.Client().Post(srv.URL+"/exec/default/web/app?command=x&output=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 409 || !strings.Contains(string(body), "container is not running") {
		t.Errorf("exec in an exited container: %d %q", resp.StatusCode, body)
	}
}

func TestStreamingAttachWithStdinIsAnError(t *testing.T) {
	_, srv := streamHarness(t)
	q := url.Values{"input": {"1"}, "output": {"1"}}
	err := spdyStream(t, srv, "/attach/default/web/app", q, remotecommand.StreamOptions{Stdin: strings.NewReader(""), Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "keeps no stdin open") {
		t.Errorf("attach -i: %v", err)
	}
}

func TestPodForwarderCopiesBothWays(t *testing.T) {
	h := newHarness(t)
	pod := listen(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "echo:%s", b)
	})
	h.dialer.SetTarget(pod)
	// The stream kubectl's side would hold: a TCP pair, so both ends can half-close.
	streams := make(chan net.Conn, 1)
	front := listen(t, func(c net.Conn) { streams <- c; <-time.After(10 * time.Second) })
	client, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	f := &podForwarder{k: h.k, netns: "/run/netns/fake-web-uid"}
	done := make(chan error, 1)
	go func() { done <- f.PortForward(context.Background(), "web", "uid", 8080, <-streams) }()
	fmt.Fprint(client, "ping")
	_ = client.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(client)
	if string(got) != "echo:ping" {
		t.Errorf("forwarded answer %q, want echo:ping", got)
	}
	if err := <-done; err != nil {
		t.Errorf("PortForward: %v", err)
	}
	dials := h.dialer.Dials()
	if len(dials) == 0 || dials[0].NetNS != "/run/netns/fake-web-uid" || dials[0].Addr != "127.0.0.1:8080" {
		t.Errorf("dials = %+v, want 127.0.0.1:8080 in the pod's namespace", dials)
	}
}

// listen serves one connection on loopback with fn and returns the address.
func listen(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fn(c)
	}()
	return ln.Addr().String()
}
