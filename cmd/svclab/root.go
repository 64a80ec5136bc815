package main

import (
	"flag"
	"io"
	"log/slog"
	"os"

	"k8s.io/klog/v2"

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
	cmd.AddCommand(newUpCmd(func() *slog.Logger { return newLogger(verbose) }))
	cmd.AddCommand(newDownCmd(func() *slog.Logger { return newLogger(verbose) }))
	cmd.AddCommand(newStatusCmd(), newKubeconfigCmd(), newKubectlCmd(), newNodeCmd())
	cmd.AddCommand(newDNSCmd(), newDigCmd(), newCurlCmd(), newExternalCmd(), newIngressCmd())
	cmd.AddCommand(newGradeCmd(), newExercisesCmd(), newProbeCmd(), newWebCmd(func() *slog.Logger { return newLogger(verbose) }))
	cmd.AddCommand(newSidecarCmd())
	cmd.AddCommand(newPodAgentCmd(), newKubeProxyCmd(), newTraceCmd(), newImageCmd(func() *slog.Logger { return newLogger(verbose) }))
	return cmd
}

func newLogger(verbose bool) *slog.Logger {
	quietKlog(verbose)
	// Progress goes through the status printer; logs show warnings and errors unless -v.
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// quietKlog keeps the Kubernetes libraries' klog output to errors unless --verbose.
func quietKlog(verbose bool) {
	if verbose {
		return
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "ERROR")
	klog.SetOutput(io.Discard)
}
