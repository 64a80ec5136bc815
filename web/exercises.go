package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/grade"
)

// exerciseSummary is one entry of GET /api/exercises.
type exerciseSummary struct {
	ID            string   `json:"id"`
	Title         string   `json:"title"`
	Summary       string   `json:"summary"`
	Minutes       int      `json:"minutes"`
	Topics        []string `json:"topics"`
	Prerequisites []string `json:"prerequisites"`
	Steps         int      `json:"steps"`
	// Passed counts the steps whose last check passed.
	Passed int `json:"passed"`
	// Progress is "PASSED/STEPS steps".
	Progress string `json:"progress"`
}

// exerciseView is GET /api/exercises/{id}.
type exerciseView struct {
	exerciseSummary
	Namespace string     `json:"namespace"`
	StepViews []stepView `json:"stepViews"`
}

// stepView is one step with its Markdown rendered and its last result.
type stepView struct {
	ID        string            `json:"id"`
	Title     string            `json:"title"`
	HTML      string            `json:"html"`
	Transient bool              `json:"transient"`
	Checks    []checkSummary    `json:"checks"`
	Status    grade.Status      `json:"status,omitempty"`
	Result    *grade.StepResult `json:"result,omitempty"`
}

type checkSummary struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// summary counts the steps that have checks (a step that only explains has nothing to
// pass) and those of them whose last check passed.
func (s *Server) summary(e *exercises.Exercise, prog grade.Progress) exerciseSummary {
	passed, total := 0, 0
	for _, st := range e.Steps {
		if len(st.Checks) == 0 {
			continue
		}
		total++
		if prog[e.ID][st.ID] == grade.Pass {
			passed++
		}
	}
	return exerciseSummary{
		ID: e.ID, Title: e.Title, Summary: e.Summary, Minutes: e.Minutes,
		Topics: nonNil(e.Topics), Prerequisites: nonNil(e.Prerequisites),
		Steps: total, Passed: passed, Progress: fmt.Sprintf("%d/%d steps", passed, total),
	}
}

// currentProgress reads the lab's progress file (`svclab grade` records there too), or
// the in-memory progress without a lab directory.
func (s *Server) currentProgress() grade.Progress {
	s.progMu.Lock()
	defer s.progMu.Unlock()
	if s.opts.LabDir != "" {
		if p, err := grade.ReadProgress(grade.ProgressFile(s.opts.LabDir)); err == nil {
			return p
		}
	}
	out := grade.Progress{}
	for ex, steps := range s.progress {
		out[ex] = map[string]grade.Status{}
		for id, st := range steps {
			out[ex][id] = st
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) listExercises(w http.ResponseWriter, r *http.Request) {
	out := make([]exerciseSummary, 0, len(s.opts.Catalog.Exercises))
	prog := s.currentProgress()
	for _, e := range s.opts.Catalog.Exercises {
		out = append(out, s.summary(e, prog))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getExercise(w http.ResponseWriter, r *http.Request) {
	e := s.opts.Catalog.Get(r.PathValue("id"))
	if e == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no exercise %q", r.PathValue("id")))
		return
	}
	prog := s.currentProgress()
	v := exerciseView{exerciseSummary: s.summary(e, prog), Namespace: e.Namespace, StepViews: []stepView{}}
	s.progMu.Lock()
	for _, st := range e.Steps {
		sv := stepView{ID: st.ID, Title: st.Title, HTML: RenderMarkdown(withoutTitle(st.Body)), Transient: st.Transient,
			Checks: []checkSummary{}, Status: prog[e.ID][st.ID]}
		for _, c := range st.Checks {
			sv.Checks = append(sv.Checks, checkSummary{Name: c.Name, Kind: c.Kind()})
		}
		if res, ok := s.results[e.ID][st.ID]; ok {
			sv.Result = &res
		}
		v.StepViews = append(v.StepViews, sv)
	}
	s.progMu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// checkStep runs one step's checks, records the result and returns it.
func (s *Server) checkStep(w http.ResponseWriter, r *http.Request) {
	e := s.opts.Catalog.Get(r.PathValue("id"))
	if e == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no exercise %q", r.PathValue("id")))
		return
	}
	var step *exercises.Step
	for i := range e.Steps {
		if e.Steps[i].ID == r.PathValue("step") {
			step = &e.Steps[i]
		}
	}
	if step == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("exercise %q has no step %q", e.ID, r.PathValue("step")))
		return
	}
	if s.opts.Checker == nil {
		writeError(w, http.StatusServiceUnavailable, "this server cannot run checks (no grader configured): use `svclab grade`")
		return
	}
	res := s.opts.Checker.Step(r.Context(), e, step)
	if res.Checks == nil {
		res.Checks = []grade.CheckResult{}
	}
	s.record(e.ID, step.ID, res)
	writeJSON(w, http.StatusOK, res)
}

// record keeps a step's last result and records its status in the lab's progress file
// (as `svclab grade` does: skipped steps and steps without checks are not recorded).
func (s *Server) record(exercise, step string, res grade.StepResult) {
	s.progMu.Lock()
	defer s.progMu.Unlock()
	if s.results[exercise] == nil {
		s.results[exercise] = map[string]grade.StepResult{}
	}
	s.results[exercise][step] = res
	if res.Status != grade.Skip && len(res.Checks) > 0 {
		if s.progress[exercise] == nil {
			s.progress[exercise] = map[string]grade.Status{}
		}
		s.progress[exercise][step] = res.Status
	}
	if s.opts.LabDir != "" {
		if err := grade.RecordProgress(grade.ProgressFile(s.opts.LabDir), exercise, res); err != nil {
			s.log.Warn("cannot save progress", "err", err)
		}
	}
}

// withoutTitle drops a step text's leading "# Heading": the page shows the step's title
// from exercise.yaml already.
func withoutTitle(body string) string {
	trimmed := strings.TrimLeft(body, "\n")
	if !strings.HasPrefix(trimmed, "# ") {
		return body
	}
	if i := strings.IndexByte(trimmed, '\n'); i >= 0 {
		return trimmed[i+1:]
	}
	return ""
}
