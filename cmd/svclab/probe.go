package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/exercises/probe"
	"github.com/svclab/svclab/proxy/dns/stub"
)

// newProbeCmd is what `svclab grade` runs inside nodes and pods: one probe, as JSON in and
// out.
func newProbeCmd() *cobra.Command {
	var spec string
	cmd := &cobra.Command{
		Use:    "probe --spec JSON",
		Short:  "Send the grader's test traffic from here and print what came back (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var s probe.Spec
			if err := json.Unmarshal([]byte(spec), &s); err != nil {
				return fmt.Errorf("--spec: %w", err)
			}
			env := probe.Env{}
			if r, err := stub.Load(resolvConfPath()); err == nil {
				env.Resolver = r
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(probe.Run(cmd.Context(), env, s))
		},
	}
	cmd.Flags().StringVar(&spec, "spec", "", "the probe (JSON of probe.Spec)")
	return cmd
}
