package web

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svclab/svclab/exercises/grade"
)

func TestExerciseListViewAndCheck(t *testing.T) {
	env := newTestEnv(t)
	var list []exerciseSummary
	w := env.do("GET", "/api/exercises", true)
	wantStatus(t, w, http.StatusOK)
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "nodeport" || list[0].Progress != "0/1 steps" {
		t.Fatalf("list %+v: want nodeport at 0/1 steps (only expose has checks)", list)
	}

	w = env.do("GET", "/api/exercises/nodeport", true)
	wantStatus(t, w, http.StatusOK)
	var view exerciseView
	if err := json.Unmarshal(w.Body.Bytes(), &view); err != nil {
		t.Fatal(err)
	}
	if len(view.StepViews) != 2 || !strings.Contains(view.StepViews[0].HTML, `<button type="button" class="copy"`) ||
		view.StepViews[0].Checks[0].Kind != "object" {
		t.Fatalf("view %+v: want 2 steps, the first with a copy button and an object check", view)
	}

	w = env.do("POST", "/api/exercises/nodeport/steps/expose/check", true)
	wantStatus(t, w, http.StatusOK)
	var res grade.StepResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != grade.Pass || len(res.Checks) != 1 || res.Checks[0].Hint != "kubectl expose" {
		t.Fatalf("result %+v", res)
	}
	prog, err := grade.ReadProgress(grade.ProgressFile(env.labDir))
	if err != nil || prog["nodeport"]["expose"] != grade.Pass {
		t.Fatalf("progress.json: %v %v", prog, err)
	}
	data, _ := os.ReadFile(filepath.Join(env.labDir, "progress.json"))
	if !strings.Contains(string(data), `"expose": "pass"`) {
		t.Errorf("progress.json:\n%s", data)
	}
	w = env.do("GET", "/api/exercises", true)
	if !strings.Contains(w.Body.String(), `"progress":"1/1 steps"`) {
		t.Errorf("after a pass the list shows 1/1 steps; got %s", w.Body.String())
	}
	w = env.do("GET", "/api/exercises/nodeport", true)
	if !strings.Contains(w.Body.String(), `"result":{"id":"expose"`) {
		t.Errorf("the view keeps the last result; got %s", w.Body.String())
	}

	wantStatus(t, env.do("POST", "/api/exercises/nodeport/steps/nope/check", true), http.StatusNotFound)
	wantStatus(t, env.do("GET", "/api/exercises/nope", true), http.StatusNotFound)
}
