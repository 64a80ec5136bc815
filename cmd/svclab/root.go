package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:           "svclab",
		Short:         "A real multi-node lab for learning and testing Kubernetes Service networking",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log debug messages")
	cmd.AddCommand(newAPIServerCmd(func() *slog.Logger { return newLogger(verbose) }))
	cmd.AddCommand(newVersionCmd())
	return cmd
}

func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
