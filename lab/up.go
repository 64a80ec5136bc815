package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	apiserver "github.com/svclab/svclab/apiserver-lite"
	"github.com/svclab/svclab/lab/cloud"
	"github.com/svclab/svclab/lab/controller"
	"github.com/svclab/svclab/lab/kubelet"
	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/runtime"
	"github.com/svclab/svclab/lab/scheduler"
	"github.com/svclab/svclab/lab/status"
)

// Lab is a running lab.
type Lab struct {
	opts     Options
	paths    Paths
	plan     network.Plan
	net      *network.Network
	rt       runtime.Runtime
	srv      *apiserver.Server
	client   kubernetes.Interface
	kubelets map[string]*kubelet.Kubelet
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	srvDone  chan error
}

// Up builds a lab and returns once every node is Ready. The lab runs until ctx is done or
// Shutdown is called; Shutdown must be called either way to remove it.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("svclab up needs root: it creates network namespaces, links and routes (run `sudo svclab up`)")
	}
	if err := network.ValidateLabName(opts.Name); err != nil {
		return nil, err
	}
	plan, ports, err := opts.plan()
	if err != nil {
		return nil, err
	}
	paths := PathsFor(opts.Name)
	if pid, alive := paths.RunningPID(); alive && pid != os.Getpid() {
		return nil, fmt.Errorf("a lab named %q is already running (pid %d): run `svclab down --name %s` first, or choose another --name", opts.Name, pid, opts.Name)
	}
	st := status.New(opts.Out)
	if paths.Exists() {
		st.Start("Cleaning up the remains of an earlier lab")
		if err := cleanup(ctx, opts.Name, opts.Log, true); err != nil {
			st.End(false)
			return nil, err
		}
	}
	if err := os.MkdirAll(paths.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", paths.Dir, err)
	}
	if err := os.WriteFile(paths.PIDFile(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l := &Lab{opts: opts, paths: paths, plan: plan, kubelets: map[string]*kubelet.Kubelet{}, cancel: cancel}
	if err := l.build(ctx, runCtx, st, ports); err != nil {
		st.End(false)
		l.Shutdown(context.Background())
		return nil, err
	}
	st.End(true)
	if err := os.WriteFile(paths.ReadyFile(), []byte(time.Now().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return l, err
	}
	return l, nil
}

func (l *Lab) build(ctx, runCtx context.Context, st *status.Printer, ports utilPortRange) error {
	opts, plan := l.opts, l.plan
	st.Start("Checking the host's routes")
	n, err := network.New(plan, network.WithLogger(opts.Log.With("component", "network")))
	if err != nil {
		return err
	}
	l.net = n
	if err := n.CheckHost(); err != nil {
		return err
	}
	st.Start("Creating the node network " + plan.NodeCIDR.String())
	if err := n.Setup(ctx); err != nil {
		return fmt.Errorf("set up the node network: %w", err)
	}

	st.Start("Starting the API server")
	if err := l.startAPIServer(ctx, runCtx, ports); err != nil {
		return err
	}
	go func() {
		opts := controller.Options{RootCA: l.srv.Bundle.CAPEM}
		if err := controller.Run(runCtx, l.srv.AdminConfig, l.opts.Log.With("component", "controller-manager"), opts); err != nil {
			l.opts.Log.Error("controllers stopped", "err", err)
		}
	}()
	if err := l.startScheduler(runCtx); err != nil {
		return err
	}
	if opts.Cloud != "none" && plan.LBCIDR.IsValid() {
		routes, err := cloud.NewRoutes(plan.Lab, plan.LBCIDR)
		if err != nil {
			return fmt.Errorf("start the lab cloud: %w", err)
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			err := cloud.Run(runCtx, l.client, cloud.Options{Pool: plan.LBCIDR, Routes: routes, Log: opts.Log.With("component", "cloud")})
			if err != nil && runCtx.Err() == nil {
				opts.Log.Error("lab cloud stopped", "err", err)
			}
		}()
	}

	st.Start("Starting the " + opts.Runtime + " runtime")
	rt, name, err := newRuntime(ctx, opts, l.paths)
	if err != nil {
		return err
	}
	l.rt = rt
	_ = os.WriteFile(l.paths.RuntimeFile(), []byte(name+"\n"), 0o600)
	if opts.Runtime == "auto" {
		st.Printf("   runtime auto: picked %s\n", name)
	}

	st.Start(fmt.Sprintf("Starting %d node(s)", opts.Nodes))
	for i := 0; i < opts.Nodes; i++ {
		if err := l.startNode(ctx, runCtx, i); err != nil {
			return err
		}
	}
	l.srv.SetPodLogSource(l.podLogs)
	l.serveStreams(runCtx)
	if err := l.addons(ctx); err != nil {
		return err
	}
	st.Start("Waiting for the nodes to be Ready")
	if err := l.waitNodesReady(ctx); err != nil {
		return err
	}
	st.Start("Starting kube-proxy (" + opts.ProxyMode + " mode) on every node")
	return l.waitKubeProxy(ctx)
}

// startAPIServer runs the API server on 127.0.0.1 and the node network's gateway.
func (l *Lab) startAPIServer(ctx, runCtx context.Context, ports utilPortRange) error {
	opts := apiserver.DefaultOptions()
	opts.Log = l.opts.Log.With("component", "apiserver")
	opts.DataDir = l.paths.APIServerDir()
	opts.KubeconfigOut = l.paths.Kubeconfig()
	opts.ClusterName = "svclab-" + l.opts.Name
	opts.ServiceClusterIPRange = l.plan.ServiceCIDR
	opts.ServiceNodePortRange = ports
	gw := l.plan.Gateway()
	opts.AdvertiseAddress = net.IP(gw.AsSlice())
	opts.ExtraListenHosts = []string{gw.String()}
	port := l.opts.APIPort
	if port == 0 {
		port = 6443
		if !portFree(port) || !portFreeOn(gw.String(), port) {
			port = 0
		}
	}
	opts.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv, err := apiserver.New(ctx, opts)
	if err != nil {
		return err
	}
	l.srv = srv
	l.srvDone = make(chan error, 1)
	go func() { l.srvDone <- srv.Run(runCtx) }()
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := srv.WaitReady(readyCtx); err != nil {
		return err
	}
	// The lab's own components (controllers, scheduler, kubelets) share this process with
	// the API server: client-side throttling (client-go's default 5 requests/s) would only
	// slow them down, as it did pod start-up by seconds.
	srv.AdminConfig.QPS, srv.AdminConfig.Burst = -1, 0
	l.client, err = kubernetes.NewForConfig(srv.AdminConfig)
	return err
}

func (l *Lab) startScheduler(runCtx context.Context) error {
	factory := informers.NewSharedInformerFactory(l.client, 0)
	s, err := scheduler.New(l.client, factory, l.opts.Log.With("component", "scheduler"))
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	factory.Start(runCtx.Done())
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		s.Run(runCtx)
	}()
	return nil
}

// startNode creates node i's namespace and runs its kubelet.
func (l *Lab) startNode(ctx, runCtx context.Context, i int) error {
	name := NodeName(l.opts.Name, i)
	node, err := l.net.AddNode(ctx, name, i)
	if err != nil {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	cfg := kubelet.Config{
		NodeName:      name,
		NodeIP:        node.IP,
		PodCIDR:       node.PodCIDR,
		NodeNetNSPath: node.NetNSPath,
		ControlPlane:  i == 0,
		StateDir:      filepath.Join(l.paths.NodesDir(), name),
		Runtime:       l.rt,
		Network:       podNetwork{node: node},
		Dialer:        nsDialer{},
		ClusterDNS:    firstIPs(l.plan.ServiceCIDR, 10),
		ClusterDomain: "cluster.local",
		Log:           l.opts.Log.With("component", "kubelet", "node", name),
	}
	if i == 0 && l.opts.Nodes > 1 {
		cfg.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	}
	k, err := kubelet.New(l.client, cfg)
	if err != nil {
		return fmt.Errorf("kubelet for %s: %w", name, err)
	}
	l.kubelets[name] = k
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := k.Run(runCtx); err != nil && runCtx.Err() == nil {
			l.opts.Log.Error("kubelet stopped", "node", name, "err", err)
		}
	}()
	return nil
}

func (l *Lab) waitNodesReady(ctx context.Context) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		nodes, err := l.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == l.opts.Nodes, nil
	})
}

// Server is the lab's API server.
func (l *Lab) Server() *apiserver.Server { return l.srv }

// Client is an admin client of the lab.
func (l *Lab) Client() kubernetes.Interface { return l.client }

// Paths are the lab's state files.
func (l *Lab) Paths() Paths { return l.paths }

// Runtime names the container runtime in use.
func (l *Lab) Runtime() string {
	if l.rt == nil {
		return ""
	}
	return l.rt.Name()
}

// Wait blocks until ctx is done or the API server stops.
func (l *Lab) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-l.srvDone:
		return fmt.Errorf("API server stopped: %w", err)
	}
}

// Shutdown stops every pod, the control plane and the runtime, and removes everything the
// lab made.
func (l *Lab) Shutdown(ctx context.Context) error {
	st := status.New(l.opts.Out)
	st.Start("Stopping the pods")
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, k := range l.kubelets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = k.StopAllPods(stopCtx)
		}()
	}
	wg.Wait()
	st.Start("Stopping the control plane")
	l.cancel()
	if l.srvDone != nil {
		select {
		case <-l.srvDone:
		case <-time.After(15 * time.Second):
		}
	}
	l.wg.Wait()
	st.Start("Removing the runtime, the network and the lab's state")
	if l.rt != nil {
		_ = l.rt.Cleanup(ctx)
		_ = l.rt.Close()
	}
	err := cleanup(ctx, l.opts.Name, l.opts.Log, os.Getenv("SVCLAB_DETACHED") != "")
	st.End(err == nil)
	return err
}

func portFree(port int) bool { return portFreeOn("127.0.0.1", port) }

func portFreeOn(host string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
