package kubectl_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"github.com/svclab/svclab/apiserver-lite/apiservertest"
)

// srv is the one API server (with its controllers) every test in this binary talks to; each
// test works in namespaces of its own.
var srv *apiservertest.Server

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait for kubectl processes and the server's fsyncs, so they may run
	// more at a time than there are CPUs (the default); -parallel still wins when given.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	tb := &mainTB{}
	defer tb.cleanup()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(mainFatal); !ok {
				panic(r)
			}
			code = 1
		}
	}()
	// The API server logs through klog; its chatter would bury kubectl's output in failures.
	klog.SetLogger(logr.Discard())
	srv = apiservertest.Start(tb, apiservertest.Options{Controllers: true})
	return m.Run()
}

// mainTB is the little of testing.TB that apiservertest.Start uses, for TestMain, where no
// *testing.T exists yet. Methods it does not define panic (the embedded interface is nil).
type mainTB struct {
	testing.TB
	cleanups []func()
	dirs     []string
}

// mainFatal is what mainTB.Fatal panics with; runMain turns it into exit status 1.
type mainFatal struct{}

func (tb *mainTB) Helper()                   {}
func (tb *mainTB) Cleanup(f func())          { tb.cleanups = append(tb.cleanups, f) }
func (tb *mainTB) Logf(f string, a ...any)   { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (tb *mainTB) Log(a ...any)              { fmt.Fprintln(os.Stderr, a...) }
func (tb *mainTB) Fatal(a ...any)            { tb.Log(a...); panic(mainFatal{}) }
func (tb *mainTB) Fatalf(f string, a ...any) { tb.Logf(f, a...); panic(mainFatal{}) }

func (tb *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "svclab-kubectl-test-")
	if err != nil {
		tb.Fatalf("temp dir: %v", err)
	}
	tb.dirs = append(tb.dirs, dir)
	return dir
}

func (tb *mainTB) cleanup() {
	for _, f := range slices.Backward(tb.cleanups) {
		f()
	}
	for _, d := range tb.dirs {
		_ = os.RemoveAll(d)
	}
}
