package main

import (
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/lab"
)

func newImageCmd(logger func() *slog.Logger) *cobra.Command {
	name := defaultLabName()
	cmd := &cobra.Command{Use: "image", Short: "Images of the lab's containerd (for classrooms without a registry)"}
	cmd.PersistentFlags().StringVar(&name, "name", name, "lab name")
	importCmd := &cobra.Command{
		Use:   "import FILE.tar",
		Short: "Load an OCI or docker-save archive into the lab's containerd",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			names, err := lab.ImportImages(cmd.Context(), name, f, logger())
			if err != nil {
				return err
			}
			if len(names) == 0 {
				return fmt.Errorf("%s holds no image with a name (a docker-save or OCI archive with a reference is needed)", args[0])
			}
			for _, n := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s\n", n)
			}
			return nil
		},
	}
	lsCmd := &cobra.Command{
		Use:   "ls",
		Short: "List the images the lab's pods can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			imgs, err := lab.Images(cmd.Context(), name, logger())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tBUILT-IN\tDIGEST")
			for _, i := range imgs {
				builtin := "no"
				if i.Builtin {
					builtin = "yes"
				}
				digest := i.Digest
				if len(digest) > 19 {
					digest = digest[:19]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", i.Name, builtin, digest)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(importCmd, lsCmd)
	return cmd
}
