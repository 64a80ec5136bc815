package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/lab"
)

func newDownCmd(logger func() *slog.Logger) *cobra.Command {
	name := defaultLabName()
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove a lab and everything it made (also after a crash); idempotent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lab.Down(cmd.Context(), name, logger()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Lab %q removed.\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", name, "lab name")
	return cmd
}
