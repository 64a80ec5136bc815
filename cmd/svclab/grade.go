package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/grade"
	"github.com/svclab/svclab/lab"
)

type gradeFlags struct {
	name, kubeconfig, format, output, step, dir string
	wait                                        time.Duration
	once                                        bool
}

func newGradeCmd() *cobra.Command {
	f := &gradeFlags{name: defaultLabName(), format: "text"}
	cmd := &cobra.Command{
		Use:   "grade [EXERCISE...] [--kubeconfig PATH] [--format text|json|junit] [--output FILE]",
		Short: "Run exercise checks against the lab (or any cluster) and report",
		Long: `Run the checks of the named exercises (all of them without names) against the lab, or
against any cluster with --kubeconfig (checks that need a node's network namespace are then
skipped, saying why), and print a report per check. Exit status: 0 when every check passed
(or was skipped), 1 when a check failed, 2 on a usage or connection error.

Transient steps (whose checks hold only while a learner is at them) are skipped when grading
whole exercises; --step grades one step of one exercise, transient or not.`,
		Example: `  sudo svclab grade nodeport
  sudo svclab grade --format junit --output grade.xml
  svclab grade clusterip --kubeconfig ~/.kube/config
  sudo svclab grade proxy-modes --step switch-nftables --wait 30s`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGrade(cmd, args, f)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitCodeError{code: 2, err: err} })
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", f.name, "lab name")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "grade the cluster of this kubeconfig instead of the lab (node checks are skipped)")
	fl.StringVar(&f.format, "format", f.format, "report format: text, json or junit")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file (default: standard output)")
	fl.StringVar(&f.step, "step", "", "grade only this step (of one exercise)")
	fl.DurationVar(&f.wait, "wait", 0, "retry failing checks for up to this long (for a lab that is still converging)")
	fl.BoolVar(&f.once, "once", false, "run each check once, without waiting for the lab to converge (ignores within and --wait)")
	fl.StringVar(&f.dir, "exercises-dir", "", "also load exercises from this directory (a folder per exercise)")
	return cmd
}

func runGrade(cmd *cobra.Command, args []string, f *gradeFlags) error {
	usage := func(format string, a ...any) error {
		return &exitCodeError{code: 2, err: fmt.Errorf(format, a...)}
	}
	var write func(io.Writer, *grade.Report) error
	switch f.format {
	case "text":
		write = grade.WriteText
	case "json":
		write = grade.WriteJSON
	case "junit":
		write = grade.WriteJUnit
	default:
		return usage("--format %q: use text, json or junit", f.format)
	}
	cat, err := exercises.Load(f.dir)
	if err != nil {
		return usage("%v", err)
	}
	exs, err := pickExercises(cat, args)
	if err != nil {
		return usage("%v", err)
	}
	if f.step != "" && len(exs) != 1 {
		return usage("--step needs exactly one exercise")
	}
	opts := grade.Options{Kubeconfig: f.kubeconfig, Wait: f.wait, Once: f.once}
	paths := lab.PathsFor(f.name)
	if opts.Kubeconfig == "" {
		if err := lab.ValidateName(f.name); err != nil {
			return usage("%v", err)
		}
		if _, err := os.Stat(paths.Kubeconfig()); err != nil {
			return &exitCodeError{code: 2, err: fmt.Errorf("lab %q is not running (no %s): start it with `sudo svclab up`, or grade another cluster with --kubeconfig", f.name, paths.Kubeconfig())}
		}
		opts.Kubeconfig, opts.Lab = paths.Kubeconfig(), f.name
	}
	g, err := grade.New(opts)
	if err != nil {
		return &exitCodeError{code: 2, err: err}
	}
	if err := g.Ping(cmd.Context()); err != nil {
		return &exitCodeError{code: 2, err: err}
	}
	var report *grade.Report
	if f.step != "" {
		e := exs[0]
		s := stepByID(e, f.step)
		if s == nil {
			return usage("exercise %s has no step %q (steps: %v)", e.ID, f.step, stepIDs(e))
		}
		start := time.Now()
		sr := g.Step(cmd.Context(), e, s)
		report = &grade.Report{Started: start, Duration: time.Since(start), Exercises: []grade.ExerciseResult{{
			ID: e.ID, Title: e.Title, Status: sr.Status, Steps: []grade.StepResult{sr}, Duration: time.Since(start)}}}
	} else {
		report = g.Grade(cmd.Context(), exs)
	}
	if opts.Lab != "" {
		for _, er := range report.Exercises {
			_ = grade.RecordProgress(grade.ProgressFile(paths.Dir), er.ID, er.Steps...)
		}
	}
	out := cmd.OutOrStdout()
	if f.output != "" {
		file, err := os.Create(f.output)
		if err != nil {
			return &exitCodeError{code: 2, err: err}
		}
		defer file.Close()
		out = file
	}
	if err := write(out, report); err != nil {
		return &exitCodeError{code: 2, err: err}
	}
	if f.output != "" && f.format != "text" {
		// The file is for the CI system; a person still gets the summary.
		_ = grade.WriteText(cmd.ErrOrStderr(), report)
	}
	if !report.Passed() {
		return &exitCodeError{code: 1}
	}
	return nil
}

func pickExercises(cat *exercises.Catalog, ids []string) ([]*exercises.Exercise, error) {
	if len(ids) == 0 {
		return cat.Exercises, nil
	}
	var out []*exercises.Exercise
	for _, id := range ids {
		e := cat.Get(id)
		if e == nil {
			return nil, fmt.Errorf("no exercise %q: `svclab exercises` lists them (have: %v)", id, cat.IDs())
		}
		out = append(out, e)
	}
	return out, nil
}

func stepByID(e *exercises.Exercise, id string) *exercises.Step {
	for i := range e.Steps {
		if e.Steps[i].ID == id {
			return &e.Steps[i]
		}
	}
	return nil
}

func stepIDs(e *exercises.Exercise) []string {
	var ids []string
	for _, s := range e.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}
