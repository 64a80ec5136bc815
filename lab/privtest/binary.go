package privtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binary returns the svclab binary a test runs: $SVCLAB_BIN (what `make test` built), or a
// static build of this tree in tb's temporary folder (static, because the lab's built-in
// image is made of it).
func Binary(tb testing.TB) string {
	tb.Helper()
	if b := os.Getenv("SVCLAB_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(tb.TempDir(), "svclab")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/svclab/svclab/cmd/svclab")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build svclab: %v\n%s", err, out)
	}
	return bin
}
