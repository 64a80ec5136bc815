package grade

import "time"

// Status is the outcome of a check, a step or an exercise.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: the check cannot run here (e.g. it needs a node's namespace and the cluster
	// is not a local lab); the message says why.
	Skip Status = "skip"
	// Error: the check could not be evaluated (bad template, API unreachable).
	Error Status = "error"
)

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Status Status `json:"status"`
	// Message says what the check saw ("spec.type is ClusterIP, want NodePort").
	Message string `json:"message,omitempty"`
	// Hint is the exercise's hint, shown when the check did not pass.
	Hint     string        `json:"hint,omitempty"`
	Duration time.Duration `json:"durationNs"`
	File     string        `json:"file,omitempty"`
	Line     int           `json:"line,omitempty"`
}

// StepResult is the outcome of a step's checks.
type StepResult struct {
	ID     string        `json:"id"`
	Title  string        `json:"title"`
	Status Status        `json:"status"`
	Checks []CheckResult `json:"checks"`
}

// ExerciseResult is the outcome of an exercise's steps.
type ExerciseResult struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Status   Status        `json:"status"`
	Steps    []StepResult  `json:"steps"`
	Duration time.Duration `json:"durationNs"`
}

// Report is a grading run.
type Report struct {
	Started   time.Time        `json:"started"`
	Duration  time.Duration    `json:"durationNs"`
	Cluster   string           `json:"cluster"` // the API server's URL
	Exercises []ExerciseResult `json:"exercises"`
}

// Passed reports whether every check passed or was skipped.
func (r *Report) Passed() bool {
	for _, e := range r.Exercises {
		if e.Status == Fail || e.Status == Error {
			return false
		}
	}
	return true
}

// combine folds check statuses into a step or exercise status: error over fail over pass;
// all skipped is skip; no checks at all passes.
func combine(statuses []Status) Status {
	if len(statuses) == 0 {
		return Pass
	}
	out, skipped := Pass, 0
	for _, s := range statuses {
		switch s {
		case Error:
			out = Error
		case Fail:
			if out != Error {
				out = Fail
			}
		case Skip:
			skipped++
		}
	}
	if skipped == len(statuses) {
		return Skip
	}
	return out
}
