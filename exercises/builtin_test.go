package exercises

import (
	"slices"
	"strings"
	"testing"
)

// The built-in catalogue must load, cover the course's topics, and ship a reference
// solution for every step that has checks (tests/exercises runs them on a real lab).
func TestBuiltinCatalogue(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Exercises {
		if !strings.HasPrefix(e.Namespace, "ex-") {
			t.Errorf("%s: namespace %q: built-in exercises use ex-<id> so they never collide", e.ID, e.Namespace)
		}
		if e.Minutes <= 0 {
			t.Errorf("%s: minutes (the estimated time) is missing", e.ID)
		}
		checks := 0
		for _, s := range e.Steps {
			checks += len(s.Checks)
			if len(s.Checks) > 0 && s.Solution == "" {
				t.Errorf("%s: step %s has checks but no solution/%s.sh", e.ID, s.ID, s.ID)
			}
			if !strings.Contains(s.Body, "```") {
				t.Errorf("%s: step %s shows no commands (a fenced code block)", e.ID, s.ID)
			}
		}
		if checks == 0 {
			t.Errorf("%s: no checks", e.ID)
		}
	}
}

// TestBuiltinCoverage names the course's topics and the exercise that teaches each.
func TestBuiltinCoverage(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"clusterip", "nodeport", "loadbalancer", "externalname", "without-selector", "kubectl-proxy",
		"dns-discovery", "proxy-modes", "update-pattern", "readiness", "traffic-policies", "ingress", "service-mesh"}
	for _, id := range want {
		if !slices.Contains(c.IDs(), id) {
			t.Errorf("no built-in exercise %q", id)
		}
	}
}
