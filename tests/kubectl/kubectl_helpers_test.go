package kubectl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubectl binaries: /usr/bin/kubectl is a dispatcher that runs 1.32; the Cloud SDK
// ships the oldest (1.27) and newest (1.33) versions we support.
const (
	kubectl132 = "/usr/bin/kubectl"
	kubectl127 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27"
	kubectl133 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
)

// versions is every kubectl the version-matrix tests run, by name.
var versions = []struct{ name, bin string }{
	{"1.27", kubectl127},
	{"1.32", kubectl132},
	{"1.33", kubectl133},
}

// runTimeout bounds one kubectl run; no command of these tests should come near it.
const runTimeout = 60 * time.Second

// kubectl runs one kubectl binary against the shared server, in namespace ns (when set).
// Every run gets a fresh HOME, so no discovery or OpenAPI cache carries over between runs.
type kubectl struct {
	t   *testing.T
	bin string
	ns  string
}

// newKubectl returns a runner for bin in a new namespace of its own. A missing binary skips
// the test, except on CI (CI set), where it fails.
func newKubectl(t *testing.T, bin string) *kubectl {
	t.Helper()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kubectl binary missing on CI: %v", err)
		}
		t.Skipf("kubectl binary %s is not installed: %v", bin, err)
	}
	return &kubectl{t: t, bin: bin, ns: newNamespace(t)}
}

// result is what one kubectl run printed and how it exited.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("kubectl %s\nexit status %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// runOpts are the extras of one run.
type runOpts struct {
	stdin string
	env   []string
	ctx   context.Context
}

// exec runs kubectl with args (prefixed with -n NS when the runner has a namespace).
func (k *kubectl) exec(o runOpts, args ...string) result {
	k.t.Helper()
	if k.ns != "" {
		args = append([]string{"--namespace", k.ns}, args...)
	}
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append([]string{
		"HOME=" + k.t.TempDir(),
		"KUBECONFIG=" + srv.KubeconfigPath,
		"PATH=" + os.Getenv("PATH"),
		"LANG=C",
	}, o.env...)
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		r.code = exitErr.ExitCode()
	default:
		k.t.Fatalf("kubectl %s: %v (context: %v)\n%s", strings.Join(args, " "), err, ctx.Err(), r)
	}
	return r
}

// run runs kubectl and returns what happened, whatever the exit status.
func (k *kubectl) run(args ...string) result {
	k.t.Helper()
	return k.exec(runOpts{}, args...)
}

// ok runs kubectl, fails the test unless it exits 0 with nothing on stderr, and returns stdout.
func (k *kubectl) ok(args ...string) string {
	k.t.Helper()
	return k.okWith(runOpts{}, args...)
}

// okWith is ok with stdin or extra environment.
func (k *kubectl) okWith(o runOpts, args ...string) string {
	k.t.Helper()
	r := k.exec(o, args...)
	if r.code != 0 || r.stderr != "" {
		k.t.Fatalf("want success and an empty stderr, got:\n%s", r)
	}
	return r.stdout
}

// fails runs kubectl, fails the test unless it exits non-zero, and returns stderr.
func (k *kubectl) fails(args ...string) string {
	k.t.Helper()
	return k.failsWith(runOpts{}, args...)
}

// failsWith is fails with stdin or extra environment.
func (k *kubectl) failsWith(o runOpts, args ...string) string {
	k.t.Helper()
	r := k.exec(o, args...)
	if r.code == 0 {
		k.t.Fatalf("want a failure, got:\n%s", r)
	}
	return r.stderr
}

// apply pipes manifest into `kubectl apply -f -` with extra flags and returns stdout.
func (k *kubectl) apply(manifest string, flags ...string) string {
	k.t.Helper()
	return k.okWith(runOpts{stdin: manifest}, append([]string{"apply", "-f", "-"}, flags...)...)
}

// nsSeq makes namespace names unique within the test binary.
var nsSeq atomic.Int64

var notDNSLabel = regexp.MustCompile(`[^a-z0-9]+`)

// newNamespace creates a namespace named after the test (through client-go, which is faster
// than kubectl) and returns its name.
func newNamespace(t *testing.T) string {
	t.Helper()
	base := strings.Trim(notDNSLabel.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 50 {
		base = strings.Trim(base[len(base)-50:], "-")
	}
	name := fmt.Sprintf("%s-%d", base, nsSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// eventually polls cond every 100ms until it returns nil or the deadline passes, then fails
// with cond's last error.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %v: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
