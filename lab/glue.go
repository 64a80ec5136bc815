package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/svclab/svclab/lab/kubelet"
	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/runtime"
	"github.com/svclab/svclab/lab/runtime/containerd"
	"github.com/svclab/svclab/lab/runtime/process"
)

type utilPortRange = utilnet.PortRange

// podNetwork gives kubelet-lite a node's pod links.
type podNetwork struct {
	node *network.Node
}

var _ kubelet.PodNetwork = podNetwork{}

// podID is the short id naming a pod's network namespace and link.
func podID(pod *corev1.Pod) string {
	id := strings.ReplaceAll(string(pod.UID), "-", "")
	if len(id) > 10 {
		id = id[:10]
	}
	return id
}

func (p podNetwork) SetupPod(ctx context.Context, pod *corev1.Pod) (string, netip.Addr, error) {
	id := podID(pod)
	created, err := p.node.AddPod(ctx, id)
	if errors.Is(err, fs.ErrExist) {
		pods, lerr := p.node.Pods()
		if lerr != nil {
			return "", netip.Addr{}, lerr
		}
		for _, existing := range pods {
			if existing.ID == id {
				return existing.NetNSPath, existing.IP, nil
			}
		}
	}
	if err != nil {
		return "", netip.Addr{}, err
	}
	return created.NetNSPath, created.IP, nil
}

func (p podNetwork) TeardownPod(ctx context.Context, pod *corev1.Pod) error {
	return p.node.RemovePod(ctx, podID(pod))
}

// nsDialer opens probe connections from inside a namespace.
type nsDialer struct{}

func (nsDialer) DialContext(ctx context.Context, nsPath, nw, addr string) (net.Conn, error) {
	return network.DialInNamespace(ctx, nsPath, nw, addr)
}

// firstIPs is the n-th address of a range (10 → the cluster DNS address, 10.96.0.10).
func firstIPs(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for i := 0; i < n; i++ {
		a = a.Next()
	}
	return a
}

// podLogs routes pods/log to the kubelet of the pod's node.
func (l *Lab) podLogs(ctx context.Context, node, namespace, pod string, opts *corev1.PodLogOptions, w io.Writer) error {
	k, ok := l.kubelets[node]
	if !ok {
		return fmt.Errorf("node %q is not part of this lab", node)
	}
	return k.Logs(ctx, namespace, pod, opts, w)
}

func containerdOptions(opts Options, paths Paths) containerd.Options {
	return containerd.Options{
		Lab:      opts.Name,
		StateDir: filepath.Join(paths.Dir, "containerd"),
		RootDir:  filepath.Join("/var/lib/svclab", opts.Name, "containerd"),
		Binary:   opts.Binary,
		Log:      opts.Log.With("component", "containerd"),
	}
}

// newRuntime starts the runtime asked for; auto prefers containerd when it is installed.
func newRuntime(ctx context.Context, opts Options, paths Paths) (runtime.Runtime, string, error) {
	kind := opts.Runtime
	if kind == "auto" {
		kind = "process"
		if _, err := exec.LookPath("containerd"); err == nil {
			kind = "containerd"
		}
	}
	if kind != "containerd" && kind != "process" {
		return nil, kind, fmt.Errorf("--runtime %q: choose auto, containerd or process", opts.Runtime)
	}
	// The process runtime always runs too: it serves the pods of the svclab-process
	// RuntimeClass (kube-proxy and other add-ons that need the host's tools).
	var popts []process.Option
	if opts.Binary != "" {
		popts = append(popts, process.WithBinary(opts.Binary))
	}
	proc, err := process.New(opts.Name, filepath.Join(paths.Dir, "process"), opts.Log.With("component", "process-runtime"), popts...)
	if err != nil {
		return nil, kind, fmt.Errorf("start the process runtime: %w", err)
	}
	handlers := map[string]runtime.Runtime{ProcessHandler: proc}
	if kind == "process" {
		return runtime.NewMulti(proc, handlers), kind, nil
	}
	rt, err := containerd.New(ctx, containerdOptions(opts, paths))
	if err != nil {
		return nil, kind, fmt.Errorf("start the containerd runtime: %w (use --runtime=process to run pods as plain processes)", err)
	}
	handlers["containerd"] = rt
	return runtime.NewMulti(rt, handlers), kind, nil
}
