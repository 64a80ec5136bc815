package containerd

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/lab/runtime"
	"github.com/svclab/svclab/lab/runtime/runtimetest"
)

// runDirExisted records whether /run/containerd existed before the tests.
var runDirExisted bool

func TestMain(m *testing.M) {
	_, err := os.Stat(systemRunDir)
	runDirExisted = err == nil
	code := m.Run()
	runtimetest.RemoveAgent()
	os.Exit(code)
}

func testOptions(t *testing.T) Options {
	dir := t.TempDir()
	return Options{
		Lab:      runtimetest.RandomName("svclabt-"),
		StateDir: filepath.Join(dir, "state"),
		RootDir:  filepath.Join(dir, "root"),
		Private:  true,
		Binary:   runtimetest.BuildAgent(t),
	}
}

// checkNothingLeft verifies what Cleanup must remove: the daemon and shims, directories,
// mounts and cgroups.
func checkNothingLeft(t *testing.T, opts Options) {
	t.Helper()
	r := &Runtime{opts: opts, ns: Namespace(opts.Lab)}
	d := r.newDaemon()
	if pids := processesWith(d.socket()); len(pids) > 0 {
		t.Errorf("processes using the private daemon's socket survive: %v", pids)
	}
	for _, dir := range []string{opts.StateDir, opts.RootDir, filepath.Join("/run/containerd/runc", r.ns)} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s survives Cleanup (%v)", dir, err)
		}
	}
	if dirs := r.CgroupDirs(); len(dirs) > 0 {
		t.Errorf("cgroups survive Cleanup: %v", dirs)
	}
	if _, err := os.Stat(systemRunDir); err == nil && !runDirExisted {
		t.Errorf("%s was created and survives Cleanup", systemRunDir)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, dir := range []string{opts.StateDir, opts.RootDir} {
		if containsLine(string(mounts), dir) {
			t.Errorf("mounts under %s survive Cleanup", dir)
		}
	}
}

func containsLine(s, sub string) bool {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		if len(s[:i]) >= len(sub) && contains(s[:i], sub) {
			return true
		}
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestPrivilegedContainerdConformance(t *testing.T) {
	privtest.Require(t, "containerd", "runc", "ip", "go")
	opts := testOptions(t)
	runtimetest.RunConformance(t, runtimetest.Harness{
		NetNSPath: runtimetest.NewNetNS(t),
		New: func(t *testing.T) runtime.Runtime {
			begin := time.Now()
			r, err := New(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("containerd: New (private daemon) took %v", time.Since(begin).Round(time.Millisecond))
			begin = time.Now()
			if err := r.EnsureImage(context.Background(), "svclab.local/agent:v1"); err != nil {
				t.Fatal(err)
			}
			t.Logf("containerd: built-in image import+unpack waited %v", time.Since(begin).Round(time.Millisecond))
			return r
		},
		AfterCleanup: func(t *testing.T) { checkNothingLeft(t, opts) },
	})
}

// TestPrivilegedContainerdCleanupAfterCrash kills the private daemon with SIGKILL while a
// container runs (as after `kill -9` of svclab's process group) and cleans up with CleanupLab.
func TestPrivilegedContainerdCleanupAfterCrash(t *testing.T) {
	privtest.Require(t, "containerd", "runc", "ip", "go")
	ctx := context.Background()
	opts := testOptions(t)
	ns := runtimetest.NewNetNS(t)
	r, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { CleanupLab(ctx, opts) })
	spec := runtime.ContainerSpec{ID: "crash", Image: "svclab/agent:v1", Command: []string{"/svclab", "ignore-term"},
		NetNSPath: ns, LogPath: filepath.Join(t.TempDir(), "crash.log")}
	if err := r.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	runtimetest.WaitLog(t, spec.LogPath, "ignoring", 20*time.Second)
	<-r.importDone
	r.client.Close()
	syscall.Kill(r.daemon.pid(), syscall.SIGKILL)

	begin := time.Now()
	if err := CleanupLab(ctx, opts); err != nil {
		t.Fatalf("CleanupLab: %v", err)
	}
	t.Logf("CleanupLab after a crash took %v", time.Since(begin).Round(time.Millisecond))
	checkNothingLeft(t, opts)
	if err := CleanupLab(ctx, opts); err != nil {
		t.Errorf("second CleanupLab: %v", err)
	}
}
