package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/grade"
	"github.com/svclab/svclab/lab"
)

func newExercisesCmd() *cobra.Command {
	name, dir := defaultLabName(), ""
	cmd := &cobra.Command{
		Use:   "exercises",
		Short: "List the guided exercises with your progress",
		Long: `List the exercises (built in, plus --exercises-dir), with the steps the last
` + "`svclab grade`" + ` or web UI check found passing in the lab.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := exercises.Load(dir)
			if err != nil {
				return err
			}
			p, err := grade.ReadProgress(grade.ProgressFile(lab.PathsFor(name).Dir))
			if err != nil {
				return err
			}
			return listExercises(cmd.OutOrStdout(), cat, p)
		},
	}
	cmd.Flags().StringVar(&name, "name", name, "lab name (whose progress to show)")
	cmd.Flags().StringVar(&dir, "exercises-dir", "", "also load exercises from this directory")
	return cmd
}

func listExercises(out io.Writer, cat *exercises.Catalog, p grade.Progress) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EXERCISE\tTITLE\tMINUTES\tPROGRESS\tTOPICS")
	for _, e := range cat.Exercises {
		graded, passed := 0, 0
		for _, s := range e.Steps {
			if len(s.Checks) == 0 {
				continue
			}
			graded++
			if p[e.ID][s.ID] == grade.Pass {
				passed++
			}
		}
		progress := fmt.Sprintf("%d/%d steps", passed, graded)
		if graded > 0 && passed == graded {
			progress += " ✓"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", e.ID, e.Title, e.Minutes, progress, strings.Join(e.Topics, ", "))
	}
	return tw.Flush()
}
