package main

import (
	"fmt"

	"github.com/spf13/cobra"

	apiserver "github.com/svclab/svclab/apiserver-lite"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print svclab's version and the Kubernetes API version it serves",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "svclab (Kubernetes API v%s)\n", apiserver.KubernetesVersion)
		},
	}
}
