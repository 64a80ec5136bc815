package exercises

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/lab/privtest"
)

// Address plan: 172.29.<10+2s>.0/24 nodes, 172.29.<11+2s>.0/24 LoadBalancers,
// 10.<240-s>.0.0/16 pods, 10.<30+s>.0.0/16 services, apart from the defaults and the other
// tests' ranges; s is $SVCLAB_EXERCISES_SLOT (0 by default) so that people working on
// exercises can run their own labs side by side.

type labCLI struct {
	t    *testing.T
	bin  string
	name string
	// pathDir holds a `svclab` link to bin: solutions call it by that name.
	pathDir string
}

func (l *labCLI) env() []string {
	return append(os.Environ(),
		"KUBECONFIG="+filepath.Join("/run/svclab", l.name, "kubeconfig"),
		"SVCLAB_NAME="+l.name,
		"PATH="+l.pathDir+":"+os.Getenv("PATH"))
}

// run runs a command with the lab's environment and returns its output and exit code.
func (l *labCLI) run(dir string, timeout time.Duration, name string, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, l.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		return out.String() + "\n" + err.Error(), -1
	}
	return out.String(), 0
}

func (l *labCLI) svclab(args ...string) (string, int) {
	return l.run("", 5*time.Minute, l.bin, args...)
}

func startLab(t *testing.T) *labCLI {
	slot := 0
	if s := os.Getenv("SVCLAB_EXERCISES_SLOT"); s != "" {
		slot, _ = strconv.Atoi(s)
	}
	l := &labCLI{t: t, bin: privtest.Binary(t), name: fmt.Sprintf("svcex%d", slot), pathDir: t.TempDir()}
	if err := os.Symlink(l.bin, filepath.Join(l.pathDir, "svclab")); err != nil {
		t.Fatal(err)
	}
	_, _ = l.svclab("down", "--name", l.name)
	before := privtest.HostSnapshot(t)
	out, code := l.svclab("up", "--detach", "--name", l.name,
		"--node-cidr", fmt.Sprintf("172.29.%d.0/24", 10+2*slot),
		"--lb-cidr", fmt.Sprintf("172.29.%d.0/24", 11+2*slot),
		"--pod-network-cidr", fmt.Sprintf("10.%d.0.0/16", 240-slot),
		"--service-cluster-ip-range", fmt.Sprintf("10.%d.0.0/16", 30+slot),
		"--api-port", "0", "--web", "off")
	t.Cleanup(func() {
		if out, code := l.svclab("down", "--name", l.name); code != 0 {
			t.Errorf("svclab down: exit %d\n%s", code, out)
		}
		// Whatever the exercises started (external apps, kubectl proxy) is gone with the lab.
		if after := privtest.HostSnapshot(t); after != before {
			t.Errorf("the host changed (the exercises, then svclab down):\n%s", privtest.Diff(before, after))
		}
	})
	if code != 0 {
		t.Fatalf("svclab up: exit %d\n%s", code, out)
	}
	return l
}

// TestPrivilegedExercises applies every exercise's reference solution to one fresh lab,
// step by step: each step's checks must fail before its solution and pass after it, and
// the whole exercise must grade as passed at the end.
func TestPrivilegedExercises(t *testing.T) {
	privtest.Require(t, "kubectl", "bash")
	cat, err := exercises.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Exercises) == 0 {
		t.Fatal("no built-in exercises")
	}
	l := startLab(t)

	t.Run("grader-cli", func(t *testing.T) { gradeCLI(t, l, cat.Exercises[0].ID) })
	for _, e := range cat.Exercises {
		t.Run(e.ID, func(t *testing.T) { solveExercise(t, l, e) })
	}
}

func solveExercise(t *testing.T, l *labCLI, e *exercises.Exercise) {
	dir, err := filepath.Abs(filepath.Join("../../exercises", e.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range e.Steps {
		if len(s.Checks) > 0 {
			out, code := l.svclab("grade", e.ID, "--name", l.name, "--step", s.ID, "--once")
			if code != 1 {
				t.Errorf("step %s: before its solution `svclab grade --step` exited %d, want 1 (a check must fail on a fresh lab)\n%s", s.ID, code, out)
			}
		}
		if s.Solution == "" {
			if len(s.Checks) > 0 {
				t.Fatalf("step %s has checks but no solution/%s.sh", s.ID, s.ID)
			}
			continue
		}
		out, code := l.run(dir, 5*time.Minute, "bash", "-euo", "pipefail", s.Solution)
		if code != 0 {
			t.Fatalf("step %s: solution %s exited %d\n%s", s.ID, s.Solution, code, out)
		}
		if len(s.Checks) > 0 {
			out, code := l.svclab("grade", e.ID, "--name", l.name, "--step", s.ID, "--wait", "90s")
			if code != 0 {
				t.Fatalf("step %s: after its solution `svclab grade --step` exited %d, want 0\n%s", s.ID, code, out)
			}
			t.Logf("step %s passes after its solution", s.ID)
		}
	}
	out, code := l.svclab("grade", e.ID, "--name", l.name, "--wait", "60s")
	if code != 0 {
		t.Fatalf("the whole exercise does not grade as passed (exit %d)\n%s", code, out)
	}
}

// gradeCLI checks svclab grade's contract on the fresh lab: exit codes and the JUnit file.
func gradeCLI(t *testing.T, l *labCLI, id string) {
	junit := filepath.Join(t.TempDir(), "grade.xml")
	out, code := l.svclab("grade", id, "--name", l.name, "--once", "--format", "junit", "--output", junit)
	if code != 1 {
		t.Errorf("grade on a fresh lab: exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "FAIL") {
		t.Errorf("with --output the summary goes to stderr; got:\n%s", out)
	}
	if _, err := exec.LookPath("xmllint"); err == nil {
		if o, err := exec.Command("xmllint", "--noout", "--schema", "../../exercises/grade/testdata/junit.xsd", junit).CombinedOutput(); err != nil {
			t.Errorf("the JUnit file does not validate: %v\n%s", err, o)
		}
	} else {
		t.Error("xmllint is missing: make test installs libxml2-utils")
	}
	for _, bad := range [][]string{
		{"grade", "--format", "yaml", "--name", l.name},
		{"grade", "no-such-exercise", "--name", l.name},
		{"grade", "--no-such-flag"},
		{"grade", "--name", "nolab"},
		{"grade", "--kubeconfig", "/nonexistent"},
	} {
		if out, code := l.svclab(bad...); code != 2 {
			t.Errorf("svclab %s: exit %d, want 2\n%s", strings.Join(bad, " "), code, out)
		}
	}
	out, code = l.svclab("grade", id, "--name", l.name, "--once", "--format", "json")
	if code != 1 || !strings.Contains(out, `"status": "fail"`) {
		t.Errorf("json report: exit %d\n%s", code, out)
	}
	if out, code := l.svclab("exercises", "--name", l.name); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "0/") {
		t.Errorf("svclab exercises: exit %d\n%s", code, out)
	}
}
