package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/proxy/tracer"
)

type traceFlags struct {
	name, node, from, to, mode string
	output                     string
	here                       bool
}

func newTraceCmd() *cobra.Command {
	f := &traceFlags{name: defaultLabName()}
	cmd := &cobra.Command{
		Use:   "trace --node NODE --from IP[:PORT] --to IP:PORT[/tcp|udp]",
		Short: "Explain what a node's kube-proxy rules do with a packet",
		Long: `Read NODE's live rules (iptables-save, the nft table, the IPVS table or the userspace
proxy's table, whichever mode kube-proxy runs in) and print the packet's walk: each chain
or map, each rule that matched, the endpoint choices with their probabilities, and whether
the packet is masqueraded, rejected or dropped. A --from address of the node itself traces
a packet the node sends (OUTPUT); any other address one that arrives (PREROUTING).`,
		Example: `  svclab trace --node svclab-worker --from 10.244.1.5 --to 10.96.0.10:53/udp
  svclab trace --node svclab-worker --from 172.18.0.1 --to 172.18.0.12:30080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrace(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", f.name, "lab name")
	fl.StringVar(&f.node, "node", "", "node whose rules to read")
	fl.StringVar(&f.from, "from", "", "source address (IP or IP:PORT)")
	fl.StringVar(&f.to, "to", "", "destination IP:PORT, optionally /tcp or /udp")
	fl.StringVar(&f.mode, "mode", "", "proxy mode (default: ask kube-proxy, or tell from the rules)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text, or json (the trace.Result, as the web UI reads it)")
	fl.BoolVar(&f.here, "here", false, "read the rules of the current network namespace (internal: svclab re-runs itself in the node)")
	_ = fl.MarkHidden("here")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func runTrace(ctx context.Context, out io.Writer, f *traceFlags) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: choose text or json", f.output)
	}
	pkt, err := tracer.ParsePacket(f.from, f.to)
	if err != nil {
		return err
	}
	if !f.here {
		if f.node == "" {
			return fmt.Errorf("--node is required: see `svclab status` for the node names")
		}
		// Re-run inside the node's network namespace, where its rules and kube-proxy are.
		ns := network.NodeNetNS(f.name, f.node)
		if _, err := os.Stat(filepath.Join(network.NetNSDir, ns)); err != nil {
			return fmt.Errorf("node %q of lab %q not found (no network namespace %s): see `svclab status` for the node names", f.node, f.name, ns)
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		args := []string{"netns", "exec", ns, self, "trace", "--here", "--output", f.output, "--from", f.from, "--to", f.to}
		if f.mode != "" {
			args = append(args, "--mode", f.mode)
		}
		cmd := exec.CommandContext(ctx, "ip", args...)
		cmd.Stdout, cmd.Stderr = out, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("trace in node %s: %w", f.node, err)
		}
		return nil
	}
	res, err := tracer.Trace(ctx, tracer.Local{}, f.mode, pkt)
	if err != nil {
		return err
	}
	if f.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprint(out, res.String())
	return nil
}
