package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/podagent"
)

type externalFlags struct {
	lab  string
	port int
}

func newExternalCmd() *cobra.Command {
	f := &externalFlags{lab: defaultLabName()}
	cmd := &cobra.Command{
		Use:   "external",
		Short: "Run apps outside the cluster, on the node network, for Services without selectors",
		Long: `An external app runs the built-in agent (svclab pod-agent) in its own network namespace on
the node network, like a legacy server next to the cluster: not a node, not a pod. Point a
Service without a selector at it with an EndpointSlice (run prints one), and pods reach it
through the Service in every proxy mode. svclab down removes external apps with the lab.`,
	}
	cmd.PersistentFlags().StringVar(&f.lab, "name", f.lab, "lab name")
	run := &cobra.Command{
		Use:   "run NAME [--port 80] [-- AGENT-ARGS...]",
		Short: "Start an external app (the agent, with AGENT-ARGS such as --version-label legacy)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n > 1 || (n < 0 && len(args) > 1) {
				return fmt.Errorf("one NAME, then agent arguments after --: svclab external run NAME -- ARGS")
			}
			return runExternalRun(cmd.Context(), cmd.OutOrStdout(), f, args[0], args[1:])
		},
	}
	run.Flags().IntVar(&f.port, "port", 80, "HTTP port of the agent")
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the external apps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExternalList(cmd.OutOrStdout(), f)
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Stop external apps and remove their namespaces",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			for _, name := range args {
				errs = append(errs, runExternalRemove(cmd.Context(), f, name))
			}
			return errors.Join(errs...)
		},
	}
	cmd.AddCommand(run, ls, rm)
	return cmd
}

// openLabNetwork opens a running lab's network, or says how to start one.
func openLabNetwork(labName string) (*network.Network, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("external apps need root (run `sudo svclab external ...`)")
	}
	if _, err := labKubeconfig(labName); err != nil {
		return nil, err
	}
	return network.Open(labName)
}

func externalFiles(labName, name string) (pidFile, logFile string) {
	dir := lab.PathsFor(labName).ExternalDir()
	return filepath.Join(dir, name+".pid"), filepath.Join(dir, name+".log")
}

func runExternalRun(ctx context.Context, out io.Writer, f *externalFlags, name string, agentArgs []string) error {
	if f.port < 1 || f.port > 65535 {
		return fmt.Errorf("--port %d: must be 1-65535", f.port)
	}
	n, err := openLabNetwork(f.lab)
	if err != nil {
		return err
	}
	x, err := n.AddExternal(ctx, name)
	if err != nil {
		return err
	}
	pid, err := startExternalAgent(f.lab, x, f.port, agentArgs)
	if err != nil {
		return errors.Join(err, n.RemoveExternal(context.WithoutCancel(ctx), name))
	}
	_, logFile := externalFiles(f.lab, name)
	fmt.Fprintf(out, "External app %q runs at %s (HTTP port %d), pid %d, log %s\n", name, x.IP, f.port, pid, logFile)
	fmt.Fprintf(out, "Try it: curl http://%s:%d/\n\n", x.IP, f.port)
	fmt.Fprintf(out, "A Service without a selector that points at it (kubectl apply -f -):\n\n%s", externalManifest(name, x.IP, f.port))
	return nil
}

// startExternalAgent starts `svclab pod-agent` in the external's namespace, detached, with
// the lab's process cookie so `svclab down` kills it, and waits until it accepts connections.
func startExternalAgent(labName string, x network.External, port int, agentArgs []string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	pidFile, logFile := externalFiles(labName, x.Name)
	if err := os.MkdirAll(filepath.Dir(pidFile), 0o755); err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	args := append([]string{"pod-agent", "--http-port", strconv.Itoa(port)}, agentArgs...)
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(),
		lab.ExternalEnv(labName, x.Name),
		podagent.EnvPodName+"="+x.Name,
		podagent.EnvPodNamespace+"=external",
		podagent.EnvPodIP+"="+x.IP.String(),
		podagent.EnvNodeName+"=external")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this command
	if err := network.RunInNamespace(x.NetNSPath, cmd.Start); err != nil {
		return 0, fmt.Errorf("start the agent in %s: %w", x.NetNS, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		return 0, err
	}
	addr := net.JoinHostPort(x.IP.String(), strconv.Itoa(port))
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-exited:
			os.Remove(pidFile)
			tail, _ := os.ReadFile(logFile)
			return 0, fmt.Errorf("the agent exited at once (%v):\n%s", err, strings.TrimSpace(string(tail)))
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			cmd.Process.Release()
			return pid, nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			os.Remove(pidFile)
			return 0, fmt.Errorf("the agent does not answer on %s after 5s (log: %s): %w", addr, logFile, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// externalManifest is a selector-less Service and the EndpointSlice that points it at ip.
func externalManifest(name string, ip netip.Addr, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  ports:
  - name: http
    port: 80
    targetPort: %[3]d
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s-1
  labels:
    kubernetes.io/service-name: %[1]s
addressType: IPv4
ports:
- name: http
  port: %[3]d
  protocol: TCP
endpoints:
- addresses: ["%[2]s"]
`, name, ip, port)
}

func runExternalList(out io.Writer, f *externalFlags) error {
	n, err := openLabNetwork(f.lab)
	if err != nil {
		return err
	}
	xs, err := n.Externals()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tIP\tNAMESPACE\tAGENT")
	for _, x := range xs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Name, x.IP, x.NetNS, agentState(f.lab, x.Name))
	}
	return tw.Flush()
}

// agentState says whether an external's agent runs: "running (pid N)" or "stopped".
func agentState(labName, name string) string {
	if pid, ok := externalPID(labName, name); ok {
		return fmt.Sprintf("running (pid %d)", pid)
	}
	return "stopped"
}

// externalPID returns the pid from the pid file if that process is alive and is this lab's.
func externalPID(labName, name string) (int, bool) {
	pidFile, _ := externalFiles(labName, name)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || !strings.Contains("\x00"+string(env), "\x00"+lab.ExternalEnv(labName, name)+"\x00") {
		return 0, false // gone, or the pid was reused
	}
	return pid, true
}

func runExternalRemove(ctx context.Context, f *externalFlags, name string) error {
	n, err := openLabNetwork(f.lab)
	if err != nil {
		return err
	}
	if _, err := n.External(name); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no external app %q in lab %s (see `svclab external ls`)", name, f.lab)
	}
	if pid, ok := externalPID(f.lab, name); ok {
		syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(5 * time.Second)
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	pidFile, logFile := externalFiles(f.lab, name)
	os.Remove(pidFile)
	os.Remove(logFile)
	return n.RemoveExternal(ctx, name)
}

// processAlive reports whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}
