package proxytest

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Update is the -update test flag: Golden rewrites the golden files instead of comparing.
// It is defined here once for every package that imports proxytest; those packages must
// not define their own "update" flag.
var Update = flag.Bool("update", false, "rewrite the testdata/*.golden files from the current output")

// Golden compares got with testdata/<name>.golden in the test's package directory, or
// rewrites that file when the tests run with -update.
func Golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	test, _, _ := strings.Cut(t.Name(), "/")
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test -run '^%s$' -update` in this package's directory to create it)", err, test)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (if the change is intended, run `go test -run '^%s$' -update` in this package's directory):\n%s",
			path, test, LineDiff(string(want), got))
	}
}

// LineDiff lists the lines only in want (prefixed "- ") and only in got ("+ "). When both
// hold the same lines in a different order it says so.
func LineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(same lines, different order or repeated lines)"
	}
	return b.String()
}
