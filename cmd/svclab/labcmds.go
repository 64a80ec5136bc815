package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/web"
)

// labKubeconfig returns the kubeconfig path of a running lab, or an error naming the fix.
func labKubeconfig(name string) (string, error) {
	p := lab.PathsFor(name).Kubeconfig()
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no lab named %q is running (no %s): start one with `sudo svclab up --name %s`", name, p, name)
	}
	return p, nil
}

func newKubeconfigCmd() *cobra.Command {
	name := defaultLabName()
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the lab's kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := labKubeconfig(name)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", name, "lab name")
	return cmd
}

func newKubectlCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl [ARGS...]",
		Short:              "Run kubectl against the lab (--name LAB first, or SVCLAB_NAME, for another lab than svclab)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := os.Getenv("SVCLAB_NAME")
			if name == "" {
				name = defaultLabName()
			}
			// kubectl's own flags pass through untouched; only a leading --name is ours.
			if len(args) >= 2 && args[0] == "--name" {
				name, args = args[1], args[2:]
			} else if len(args) >= 1 && strings.HasPrefix(args[0], "--name=") {
				name, args = strings.TrimPrefix(args[0], "--name="), args[1:]
			}
			p, err := labKubeconfig(name)
			if err != nil {
				return err
			}
			kubectl := "/usr/bin/kubectl"
			if _, err := os.Stat(kubectl); err != nil {
				if kubectl, err = exec.LookPath("kubectl"); err != nil {
					return fmt.Errorf("kubectl is not installed: install it, or use the kubeconfig from `svclab kubeconfig`")
				}
			}
			env := append(os.Environ(), "KUBECONFIG="+p)
			return syscall.Exec(kubectl, append([]string{"kubectl"}, args...), env)
		},
	}
}

func newStatusCmd() *cobra.Command {
	name := defaultLabName()
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the lab's nodes, pods, runtime and URLs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := labKubeconfig(name)
			if err != nil {
				return err
			}
			paths := lab.PathsFor(name)
			pid, alive := paths.RunningPID()
			state := "running"
			if !alive {
				state = "not running (leftovers: run `sudo svclab down`)"
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Lab %q: %s (pid %d)\n", name, state, pid)
			if rt, err := os.ReadFile(paths.RuntimeFile()); err == nil {
				fmt.Fprintf(out, "Runtime: %s\n", strings.TrimSpace(string(rt)))
			}
			if u, err := web.ReadURL(paths.Dir); err == nil {
				fmt.Fprintf(out, "Web UI: %s\n", u)
			}
			printSummary(cmd.Context(), out, name, p)
			printPods(cmd.Context(), out, p)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", name, "lab name")
	return cmd
}

// printSummary prints the kubeconfig, the node table and what to try next.
func printSummary(ctx context.Context, out io.Writer, name, kubeconfig string) {
	fmt.Fprintf(out, "Kubeconfig: %s\n", kubeconfig)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err == nil {
		fmt.Fprintf(out, "API server: %s\n\n", cfg.Host)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(out, "(cannot list nodes: %v)\n", err)
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATUS\tINTERNAL-IP\tPOD-CIDR")
	for _, n := range nodes.Items {
		ready := "NotReady"
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = "Ready"
			}
		}
		ip := ""
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, ready, ip, n.Spec.PodCIDR)
	}
	tw.Flush()
	fmt.Fprintf(out, `
Try:
  export KUBECONFIG=%[1]s
  kubectl get nodes -o wide
  kubectl create deployment web --image=svclab.local/agent:v1 --replicas=3
  kubectl expose deployment web --port 80 --type NodePort
  kubectl exec deploy/web -- /svclab curl -s http://web/
  sudo svclab node exec %[2]s -- iptables-save | grep default/web
  sudo svclab trace --node %[2]s --from <a pod IP> --to <web's CLUSTER-IP>:80
`, kubeconfig, lab.NodeName(name, 1))
}

func newNodeCmd() *cobra.Command {
	name := defaultLabName()
	cmd := &cobra.Command{Use: "node", Short: "Work inside a node's network namespace"}
	cmd.PersistentFlags().StringVar(&name, "name", name, "lab name")
	execCmd := &cobra.Command{
		Use:   "exec NODE -- CMD [ARGS...]",
		Short: "Run a host program inside a node's network namespace (iptables-save, curl, ip route)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return nodeExec(name, args[0], args[1:])
		},
	}
	shellCmd := &cobra.Command{
		Use:   "shell NODE",
		Short: "Open an interactive shell inside a node's network namespace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sh := os.Getenv("SHELL")
			if sh == "" {
				sh = "/bin/bash"
			}
			return nodeExec(name, args[0], []string{sh})
		},
	}
	cmd.AddCommand(execCmd, shellCmd)
	return cmd
}

// nodeExec replaces this process with `ip netns exec <node namespace> CMD...`.
func nodeExec(labName, node string, argv []string) error {
	ns := network.NodeNetNS(labName, node)
	if _, err := os.Stat(filepath.Join(network.NetNSDir, ns)); err != nil {
		return fmt.Errorf("node %q of lab %q not found (no network namespace %s): see `svclab status` for the node names", node, labName, ns)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return fmt.Errorf("the ip command (iproute2) is needed: %w", err)
	}
	return syscall.Exec(ip, append([]string{"ip", "netns", "exec", ns}, argv...), os.Environ())
}

// printPods prints the proxy mode and every pod, like `kubectl get pods -A -o wide` trimmed.
func printPods(ctx context.Context, out io.Writer, kubeconfig string) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return
	}
	if cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{}); err == nil {
		for _, line := range strings.Split(cm.Data["config.conf"], "\n") {
			if v, ok := strings.CutPrefix(line, "mode: "); ok {
				fmt.Fprintf(out, "\nProxy mode: %s (kube-system/kube-proxy ConfigMap)\n", strings.TrimSpace(v))
			}
		}
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	fmt.Fprintf(out, "\nPods (%d):\n", len(pods.Items))
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tPHASE\tIP\tNODE")
	for _, p := range pods.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName)
	}
	tw.Flush()
}

// defaultLabName is the lab commands act on without --name: $SVCLAB_NAME, or "svclab".
// Reference solutions and the web terminal set SVCLAB_NAME so `svclab` commands in them
// reach the right lab.
func defaultLabName() string {
	if n := os.Getenv("SVCLAB_NAME"); n != "" {
		return n
	}
	return lab.DefaultName
}
