package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/grade"
	"github.com/svclab/svclab/web/webtest"
)

const testToken = "t0ken"

// fakeChecker passes every step whose ID does not start with "fail".
type fakeChecker struct{ calls []string }

func (f *fakeChecker) Step(_ context.Context, e *exercises.Exercise, s *exercises.Step) grade.StepResult {
	f.calls = append(f.calls, e.ID+"/"+s.ID)
	st := grade.Pass
	if strings.HasPrefix(s.ID, "fail") {
		st = grade.Fail
	}
	return grade.StepResult{ID: s.ID, Title: s.Title, Status: st, Checks: []grade.CheckResult{
		{Name: "the Service web exists", Kind: "object", Status: st, Message: "saw " + string(st), Hint: "kubectl expose"},
	}}
}

func testCatalog() *exercises.Catalog {
	return &exercises.Catalog{Exercises: []*exercises.Exercise{{
		ID: "nodeport", Title: "NodePort", Summary: "Reach a Service from outside.", Minutes: 10,
		Namespace: "ex-nodeport",
		Steps: []exercises.Step{
			{ID: "expose", Title: "Expose", Body: "Run:\n\n```sh\nkubectl expose deploy web\n```\n",
				Checks: []exercises.Check{{Name: "the Service web exists", Object: &exercises.ObjectCheck{Resource: "services", Name: "web"}}}},
			{ID: "fail-step", Title: "A failing step", Body: "Nothing *here*."},
		},
	}}}
}

type testEnv struct {
	srv     *Server
	client  *fake.Clientset
	runner  *webtest.Runner
	checker *fakeChecker
	labDir  string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	env := &testEnv{client: fake.NewClientset(), runner: &webtest.Runner{}, checker: &fakeChecker{}, labDir: t.TempDir()}
	srv, err := New(Options{
		Lab: "lab", LabDir: env.labDir, Client: env.client, Catalog: testCatalog(),
		Checker: env.checker, Runner: env.runner, Binary: "/bin/svclab", Token: testToken,
		Debounce: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv.Start(ctx)
	return env
}

// do sends a request through the handler; with auth it carries the bearer token.
func (e *testEnv) do(method, target string, auth bool, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	if auth {
		r.Header.Set("Authorization", "Bearer "+testToken)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	return w
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, code int) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body:\n%s", w.Code, code, w.Body.String())
	}
}
