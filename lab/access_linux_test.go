package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svclab/svclab/lab/privtest"
)

// TestPrivilegedAccessPaths drives the real kubectl against a process-runtime lab: exec
// (WebSocket v5 and SPDY) with output and exit codes, attach, port-forward to a pod and a
// Service, and kubectl proxy to services/proxy and pods/proxy.
func TestPrivilegedAccessPaths(t *testing.T) {
	privtest.Require(t, "ip")
	testAccessPaths(t, "process")
}

// TestPrivilegedAccessPathsContainerd is the same against the containerd runtime.
func TestPrivilegedAccessPathsContainerd(t *testing.T) {
	privtest.Require(t, "ip", "containerd", "runc")
	testAccessPaths(t, "containerd")
}

func testAccessPaths(t *testing.T, runtimeName string) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	opts := testOptions(t, runtimeName)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() { _ = l.Shutdown(context.Background()) })
	client := l.Client()
	if _, err := client.AppsV1().Deployments("default").Create(ctx, agentDeployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80)}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "none"},
			Ports: []corev1.ServicePort{{Port: 80}}}},
	} {
		if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pods := waitReadyPods(ctx, t, client, "app=web", 2)
	pod := pods[0].Name
	k := func(ctx context.Context, env []string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", l.Paths().Kubeconfig()}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		cmd.WaitDelay = 2 * time.Second
		return cmd
	}

	t.Run("exec", func(t *testing.T) {
		want := exitCode(exec.Command(opts.Binary, "pod-agent", "--bogus-flag").Run())
		if want == 0 {
			t.Fatal("svclab pod-agent --bogus-flag exits 0 on the host")
		}
		for _, mode := range []struct{ name, env string }{
			{"websocket", "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true"},
			{"spdy", "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"},
		} {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			// -v=4 shows client-go's "RemoteCommand fallback" when WebSocket was refused.
			out, err := k(ctx, []string{mode.env}, "exec", "-v=4", pod, "--", "/svclab", "version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "svclab") {
				t.Errorf("%s: kubectl exec %s -- /svclab version: %v\n%s", mode.name, pod, err, out)
			}
			if strings.Contains(strings.ToLower(string(out)), "fallback") {
				t.Errorf("%s: kubectl fell back from WebSocket:\n%s", mode.name, out)
			}
			out, err = k(ctx, []string{mode.env}, "exec", pod, "--", "/svclab", "pod-agent", "--bogus-flag").CombinedOutput()
			if got := exitCode(err); got != want {
				t.Errorf("%s: kubectl exec of a failing command exits %d, want %d\n%s", mode.name, got, want, out)
			}
			cancel()
		}
		// kubectl drops -t unless its stdin is a terminal: script(1) gives it one.
		script, err := exec.LookPath("script")
		if err != nil {
			t.Log("no script(1): exec -it not tried")
			return
		}
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		line := fmt.Sprintf("%s --kubeconfig %s exec -it %s -- /svclab version", kubectl, l.Paths().Kubeconfig(), pod)
		cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if runtimeName == "process" {
			if err == nil || !strings.Contains(string(out), "cannot give container") {
				t.Errorf("exec -it on the process runtime: want the terminal error, got %v\n%s", err, out)
			}
		} else if err != nil || !strings.Contains(string(out), "svclab") {
			t.Errorf("exec -it: %v\n%s", err, out)
		}
	})

	t.Run("attach", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cmd := k(ctx, nil, "attach", pod)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		found := make(chan bool, 1)
		go func() { found <- scanFor(stdout, "/attach-probe") }()
		deadline := time.After(15 * time.Second)
		for {
			// The agent logs each request it answers; ask until attach shows one.
			httpGetHost(ctx, pods[0].Status.PodIP+":80", "/attach-probe")
			select {
			case ok := <-found:
				if !ok {
					t.Error("kubectl attach ended without showing the request")
				}
				return
			case <-deadline:
				t.Error("kubectl attach did not show the container's output within 15s")
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		for _, target := range []string{"pod/" + pod, "svc/web"} {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			cmd := k(ctx, nil, "port-forward", target, ":80")
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			addr, err := readAddr(stdout, regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+) -> 80`))
			if err != nil {
				t.Errorf("kubectl port-forward %s: %v", target, err)
			} else if body := httpGetHost(ctx, addr, "/"); !strings.Contains(body, "pod=web-") {
				t.Errorf("port-forward %s: GET %s answered %q", target, addr, body)
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cancel()
		}
	})

	t.Run("proxy", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cmd := k(ctx, nil, "proxy", "--port=0")
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		addr, err := readAddr(stdout, regexp.MustCompile(`Starting to serve on (127\.0\.0\.1:\d+)`))
		if err != nil {
			t.Fatalf("kubectl proxy: %v", err)
		}
		for _, path := range []string{
			"/api/v1/namespaces/default/services/web:80/proxy/",
			"/api/v1/namespaces/default/services/web:http/proxy/",
			"/api/v1/namespaces/default/services/http:web:80/proxy/",
			"/api/v1/namespaces/default/pods/" + pod + ":80/proxy/",
		} {
			if body := httpGetHost(ctx, addr, path); !strings.Contains(body, "pod=web-") {
				t.Errorf("GET %s answered %q", path, body)
			}
		}
		body := httpGetHost(ctx, addr, "/api/v1/namespaces/default/services/empty:80/proxy/")
		if !strings.Contains(body, `no endpoints available for service \"empty\"`) {
			t.Errorf("a Service without endpoints answered %q", body)
		}
	})
}

// exitCode is a command's exit code (0 for success, -1 when it did not exit).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// scanFor reads lines until one contains s (true) or the stream ends (false).
func scanFor(r io.Reader, s string) bool {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			go func() { _, _ = io.Copy(io.Discard, r) }()
			return true
		}
	}
	return false
}

// readAddr waits (up to 15s) for the line kubectl prints when it listens.
func readAddr(r io.Reader, re *regexp.Regexp) (string, error) {
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				got <- m[1]
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
		close(got)
	}()
	select {
	case a, ok := <-got:
		if !ok {
			return "", errors.New("exited before listening")
		}
		return a, nil
	case <-time.After(15 * time.Second):
		return "", errors.New("did not listen within 15s")
	}
}

// httpGetHost does one bounded GET from the host and returns the body (or the error text).
func httpGetHost(ctx context.Context, addr, path string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err.Error()
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{}).DialContext, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}
