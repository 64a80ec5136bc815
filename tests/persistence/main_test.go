package persistence

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/klog/v2"
)

// TestMain silences client-go's klog output (set SVCLAB_TEST_KLOG=1 to see it) and removes
// the binary svclabBinary built.
func TestMain(m *testing.M) {
	if os.Getenv("SVCLAB_TEST_KLOG") == "" {
		fs := flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(fs)
		_ = fs.Set("logtostderr", "false")
		_ = fs.Set("alsologtostderr", "false")
		_ = fs.Set("stderrthreshold", "FATAL")
		klog.SetOutput(io.Discard)
	}
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin)) // the binary svclabBinary built
	}
	os.Exit(code)
}
