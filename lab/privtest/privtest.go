// Package privtest gates privileged tests: they skip with a reason when not root, and in CI
// (SVCLAB_CI_PRIVILEGED=1, set by `make test` when run as root) a missing tool fails the
// test instead of skipping it.
package privtest

import (
	"os"
	"os/exec"
	"testing"
)

// Require skips t unless the process is root and every tool is on PATH. Under
// SVCLAB_CI_PRIVILEGED=1 a missing tool is a failure, not a skip.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("SVCLAB_CI_PRIVILEGED") == "1" {
			t.Fatal("privileged test: not running as root, but SVCLAB_CI_PRIVILEGED=1 requires it")
		}
		t.Skip("privileged test: needs root (run `sudo make test`)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("SVCLAB_CI_PRIVILEGED") == "1" {
				t.Fatalf("privileged test: %s is not installed (make test installs it: hack/install-deps.sh)", tool)
			}
			t.Skipf("privileged test: %s is not installed (run `sudo make deps`)", tool)
		}
	}
}
