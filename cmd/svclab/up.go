package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/web"
)

type upFlags struct {
	opts   lab.Options
	detach bool
	// web is the UI's listen address ("off": no UI); exercisesDir adds exercises to it.
	web, exercisesDir string
}

// detachedEnv marks the background child of `svclab up --detach`.
const detachedEnv = "SVCLAB_DETACHED"

func newUpCmd(logger func() *slog.Logger) *cobra.Command {
	f := &upFlags{opts: lab.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create a lab: nodes, pod network, API server, controllers and kubelets",
		Long: `Create a lab and run it in the foreground (Ctrl-C tears it down), or in the background
with --detach (pid and log under /run/svclab/<name>/). Needs root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.opts.Log = logger()
			f.opts.Out = cmd.ErrOrStderr()
			return runUp(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.opts.Name, "name", f.opts.Name, "lab name")
	fl.IntVar(&f.opts.Nodes, "nodes", f.opts.Nodes, "number of nodes (one control plane, the rest workers)")
	fl.StringVar(&f.opts.Runtime, "runtime", f.opts.Runtime, "container runtime: auto, containerd or process")
	fl.StringVar(&f.opts.ProxyMode, "proxy-mode", f.opts.ProxyMode, "kube-proxy mode: iptables, nftables, ipvs or userspace")
	fl.StringVar(&f.opts.Cloud, "cloud", f.opts.Cloud, "LoadBalancer implementation: lab (built-in cloud) or none (EXTERNAL-IP stays <pending>)")
	fl.StringVar(&f.opts.NodeCIDR, "node-cidr", f.opts.NodeCIDR, "node network (the host bridge gets the first address)")
	fl.StringVar(&f.opts.PodCIDR, "pod-network-cidr", f.opts.PodCIDR, "pod network; node i gets the i-th /24")
	fl.StringVar(&f.opts.ServiceCIDR, "service-cluster-ip-range", f.opts.ServiceCIDR, "range ClusterIPs come from")
	fl.StringVar(&f.opts.NodePortRange, "service-node-port-range", f.opts.NodePortRange, "range NodePorts come from")
	fl.StringVar(&f.opts.LBCIDR, "lb-cidr", f.opts.LBCIDR, "LoadBalancer address pool of the lab cloud")
	fl.IntVar(&f.opts.APIPort, "api-port", 0, "API server port (default 6443, or a free port when taken)")
	fl.BoolVar(&f.detach, "detach", false, "run the lab in the background")
	fl.StringVar(&f.web, "web", "127.0.0.1:8080", "address of the web UI (--web=off: no UI); a taken address is refused before anything changes")
	fl.StringVar(&f.exercisesDir, "exercises-dir", "", "more exercises for the web UI (a folder of exercise folders; same IDs replace built-in ones)")
	return cmd
}

func runUp(ctx context.Context, f *upFlags, out io.Writer) error {
	// A lab that runs already is the first thing to say (its UI holds the --web address).
	if os.Getenv(detachedEnv) == "" {
		if pid, alive := lab.PathsFor(f.opts.Name).RunningPID(); alive {
			return fmt.Errorf("a lab named %q is already running (pid %d): run `svclab down --name %s` first, or choose another --name", f.opts.Name, pid, f.opts.Name)
		}
	}
	webLn, err := checkWebFlags(f)
	if err != nil {
		return err
	}
	if f.detach && os.Getenv(detachedEnv) == "" {
		if webLn != nil {
			webLn.Close() // the background process listens; this only refused a taken address early
		}
		return startDetached(ctx, f, out)
	}
	fmt.Fprintf(f.opts.Out, "Creating lab %q ...\n", f.opts.Name)
	start := time.Now()
	l, err := lab.Up(ctx, f.opts)
	if err != nil {
		if webLn != nil {
			webLn.Close()
		}
		return err
	}
	fmt.Fprintf(f.opts.Out, "Lab %q is up in %.1fs (runtime %s).\n\n", f.opts.Name, time.Since(start).Seconds(), l.Runtime())
	webCtx, stopWeb := context.WithCancel(ctx)
	defer stopWeb()
	var webURL string
	var webDone <-chan struct{}
	if webLn != nil {
		if webURL, webDone, err = startLabWeb(webCtx, f.opts.Name, f.exercisesDir, webLn, f.opts.Log); err != nil {
			webLn.Close()
			fmt.Fprintf(f.opts.Out, "The web UI did not start (%v); the lab runs without it.\n", err)
		}
	}
	if os.Getenv(detachedEnv) == "" {
		printSummary(ctx, out, f.opts.Name, l.Paths().Kubeconfig())
		if webURL != "" {
			fmt.Fprintf(out, "\nWeb UI: %s\n", webURL)
		}
		fmt.Fprintln(out, "\nThe lab runs until Ctrl-C (or `svclab down` from another terminal).")
	}
	waitErr := l.Wait(ctx)
	stopWeb()
	if webDone != nil {
		<-webDone
	}
	fmt.Fprintf(f.opts.Out, "Tearing lab %q down ...\n", f.opts.Name)
	if err := l.Shutdown(context.Background()); err != nil {
		return err
	}
	fmt.Fprintln(f.opts.Out, "Done: nothing of the lab is left.")
	return waitErr
}

// startDetached re-runs `svclab up` in the background and returns once the lab is ready.
func startDetached(ctx context.Context, f *upFlags, out io.Writer) error {
	paths := lab.PathsFor(f.opts.Name)
	if pid, alive := paths.RunningPID(); alive {
		return fmt.Errorf("a lab named %q is already running (pid %d): run `svclab down --name %s` first, or choose another --name", f.opts.Name, pid, f.opts.Name)
	}
	if err := os.MkdirAll(paths.Dir, 0o700); err != nil {
		return err
	}
	_ = os.Remove(paths.ReadyFile())
	logFile, err := os.OpenFile(paths.LogFile(), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), detachedEnv+"=1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the lab in the background: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(f.opts.Out, "Creating lab %q in the background (pid %d, log %s) ...\n", f.opts.Name, cmd.Process.Pid, paths.LogFile())
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			log, _ := os.ReadFile(paths.LogFile())
			return fmt.Errorf("the lab process exited (%v):\n%s", err, strings.TrimSpace(string(log)))
		case <-tick.C:
			if _, err := os.Stat(paths.ReadyFile()); err == nil {
				printSummary(ctx, out, f.opts.Name, paths.Kubeconfig())
				printWebURL(ctx, out, f, paths)
				fmt.Fprintf(out, "\nThe lab runs in the background; `sudo svclab down --name %s` removes it.\n", f.opts.Name)
				return nil
			}
		}
	}
}

// checkWebFlags refuses a bad --exercises-dir or a taken --web address before anything
// changes, and returns the UI's listener (nil with --web=off).
func checkWebFlags(f *upFlags) (net.Listener, error) {
	if f.exercisesDir != "" {
		if _, err := exercises.Load(f.exercisesDir); err != nil {
			return nil, err
		}
	}
	if f.web == "off" {
		return nil, nil
	}
	return listenWeb("--web", f.web)
}

// printWebURL prints the UI's URL once the background lab process has recorded it (it does
// right after the lab is ready).
func printWebURL(ctx context.Context, out io.Writer, f *upFlags, paths lab.Paths) {
	if f.web == "off" {
		return
	}
	for i := 0; i < 50 && ctx.Err() == nil; i++ {
		if url, err := web.ReadURL(paths.Dir); err == nil {
			fmt.Fprintf(out, "\nWeb UI: %s\n", url)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(out, "\nThe web UI did not start: see %s\n", paths.LogFile())
}
