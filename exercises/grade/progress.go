package grade

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// Progress is the last result of each exercise step: exercise ID → step ID → status.
// `svclab grade` and the web UI's Check button record it in the lab's state directory;
// `svclab exercises` shows it.
type Progress map[string]map[string]Status

// ProgressFile is where a lab keeps its progress.
func ProgressFile(labDir string) string { return filepath.Join(labDir, "progress.json") }

var progressMu sync.Mutex

// ReadProgress reads a progress file; a missing file is no progress.
func ReadProgress(path string) (Progress, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Progress{}, nil
	}
	if err != nil {
		return nil, err
	}
	p := Progress{}
	if err := json.Unmarshal(data, &p); err != nil {
		return Progress{}, nil // a damaged file is no progress, not an error for the learner
	}
	return p, nil
}

// RecordProgress merges step results into the progress file (skipped steps are not
// recorded: they say nothing about the learner's work).
func RecordProgress(path, exercise string, steps ...StepResult) error {
	progressMu.Lock()
	defer progressMu.Unlock()
	p, err := ReadProgress(path)
	if err != nil {
		return err
	}
	if p[exercise] == nil {
		p[exercise] = map[string]Status{}
	}
	for _, s := range steps {
		if s.Status != Skip && len(s.Checks) > 0 {
			p[exercise][s.ID] = s.Status
		}
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
