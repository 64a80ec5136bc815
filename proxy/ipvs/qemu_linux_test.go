package ipvs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/privtest"
)

// TestPrivilegedIPVSQemu runs hack/ipvs-vm.sh: TestPrivilegedIPVSInVM inside a qemu VM
// booting Debian's cloud kernel, so the real-kernel checks run even where the host kernel
// has no IPVS. About 20 s once the kernel is cached (the first run downloads it).
func TestPrivilegedIPVSQemu(t *testing.T) {
	privtest.Require(t, "apt-get", "dpkg", "go")
	if os.Getenv("SVCLAB_IN_VM") == "1" {
		t.Skip("already inside the VM")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "hack", "ipvs-vm.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, script).CombinedOutput()
	t.Logf("hack/ipvs-vm.sh (%s):\n%s", time.Since(start).Round(100*time.Millisecond), out)
	if err != nil {
		t.Fatalf("hack/ipvs-vm.sh: %v", err)
	}
}
