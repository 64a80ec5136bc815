package grade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/svclab/svclab/exercises/probe"
	"github.com/svclab/svclab/lab/network"
)

// Output is what a command printed and how it ended.
type Output struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// NodeRunner runs a command inside a node's network namespace.
type NodeRunner interface {
	RunInNode(ctx context.Context, node string, argv []string) (Output, error)
}

// PodRunner runs a command in a pod's first container, as `kubectl exec` does.
type PodRunner interface {
	ExecInPod(ctx context.Context, ns, pod string, argv []string) (Output, error)
}

// netnsRunner enters a node with `ip netns exec`; "svclab" as argv[0] is this binary.
type netnsRunner struct {
	self, lab, kubeconfig string
}

func (r *netnsRunner) RunInNode(ctx context.Context, node string, argv []string) (Output, error) {
	ns := network.NodeNetNS(r.lab, node)
	if !nodeNetNSExists(ns) {
		return Output{}, fmt.Errorf("node %q of lab %q not found (no network namespace %s)", node, r.lab, ns)
	}
	if len(argv) > 0 && argv[0] == "svclab" {
		argv = append([]string{r.self}, argv[1:]...)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = commandEnv(r.self, r.lab, r.kubeconfig)
	return runCmd(cmd)
}

// commandEnv is the environment of check commands and solutions: KUBECONFIG, the lab's
// name and svclab on PATH.
func commandEnv(self, lab, kubeconfig string) []string {
	env := os.Environ()
	path := filepath.Dir(self) + ":" + os.Getenv("PATH")
	env = append(env, "KUBECONFIG="+kubeconfig, "PATH="+path)
	if lab != "" {
		env = append(env, "SVCLAB_NAME="+lab)
	}
	if filepath.Base(self) != "svclab" {
		// A binary under another name (a test build): `svclab` in bash commands still
		// means this one, through an exported bash function.
		env = append(env, "BASH_FUNC_svclab%%=() {  "+strconv.Quote(self)+` "$@"`+"\n}")
	}
	return env
}

func runCmd(cmd *exec.Cmd) (Output, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	o := Output{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		o.ExitCode = ee.ExitCode()
		return o, nil
	}
	return o, err
}

// execRunner uses the API's pods/exec (WebSocket, falling back to SPDY) like kubectl.
type execRunner struct {
	config *rest.Config
	client kubernetes.Interface
}

func (r *execRunner) ExecInPod(ctx context.Context, ns, pod string, argv []string) (Output, error) {
	req := r.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: argv, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(r.config, "GET", req.URL().String())
	if err != nil {
		return Output{}, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(r.config, "POST", req.URL())
	if err != nil {
		return Output{}, err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return Output{}, err
	}
	var out, errb bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb})
	o := Output{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ce utilexec.CodeExitError
	if errors.As(err, &ce) {
		o.ExitCode = ce.Code
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("exec in pod %s/%s: %w", ns, pod, err)
	}
	return o, nil
}

// runProbe runs a probe where from says: the grader's process, a node or a pod.
func (g *Grader) runProbe(ctx context.Context, defNS string, from string, spec probe.Spec) (probe.Result, string, error) {
	switch {
	case from == "" || from == "host":
		return probe.Run(ctx, probe.Env{}, spec), "host", nil
	case strings.HasPrefix(from, "node/"):
		node := strings.TrimPrefix(from, "node/")
		if ok, why := g.nodeAccess(); !ok {
			return probe.Result{}, "", &skipError{why}
		}
		js, _ := json.Marshal(spec)
		out, err := g.nodeRunner.RunInNode(ctx, node, []string{"svclab", "probe", "--spec", string(js)})
		if err != nil {
			return probe.Result{}, "", err
		}
		return decodeProbe(out, "node "+node)
	case strings.HasPrefix(from, "pod/"):
		p, err := g.findPod(ctx, defNS, strings.TrimPrefix(from, "pod/"))
		if err != nil {
			return probe.Result{}, "", &failError{err.Error()}
		}
		js, _ := json.Marshal(spec)
		out, err := g.podRunner.ExecInPod(ctx, p.Namespace, p.Name, []string{"/svclab", "probe", "--spec", string(js)})
		if err != nil {
			return probe.Result{}, "", err
		}
		return decodeProbe(out, "pod "+p.Namespace+"/"+p.Name)
	}
	return probe.Result{}, "", fmt.Errorf("from %q: use host, node/NAME or pod/...", from)
}

func decodeProbe(out Output, where string) (probe.Result, string, error) {
	var r probe.Result
	if out.ExitCode != 0 || json.Unmarshal(out.Stdout, &r) != nil {
		return r, where, fmt.Errorf("probe in %s failed (exit %d): %s%s (the image must contain /svclab, as the built-in image does)",
			where, out.ExitCode, strings.TrimSpace(string(out.Stderr)), strings.TrimSpace(string(out.Stdout)))
	}
	return r, where, nil
}

// skipError makes a check Skip; failError makes it Fail (rather than Error).
type skipError struct{ why string }

func (e *skipError) Error() string { return e.why }

type failError struct{ msg string }

func (e *failError) Error() string { return e.msg }

func resultOf(err error) CheckResult {
	var se *skipError
	var fe *failError
	switch {
	case errors.As(err, &se):
		return CheckResult{Status: Skip, Message: se.why}
	case errors.As(err, &fe):
		return failed("%s", fe.msg)
	}
	return errored(err)
}
