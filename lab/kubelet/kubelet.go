package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/svclab/svclab/lab/runtime"
)

// KubeletVersion is the version kubelet-lite reports in Node.status.nodeInfo.
const KubeletVersion = "v1.37.2"

// PodNetwork gives pods their network namespace and address (lab/network implements it).
type PodNetwork interface {
	// SetupPod creates (or finds again: it is idempotent per pod UID) the pod's network
	// namespace and returns its path and the pod IP.
	SetupPod(ctx context.Context, pod *corev1.Pod) (netnsPath string, ip netip.Addr, err error)
	// TeardownPod removes the pod's namespace and releases its address.
	TeardownPod(ctx context.Context, pod *corev1.Pod) error
}

// Dialer opens sockets inside a network namespace; probes use it to reach pods.
type Dialer interface {
	// DialContext dials addr from inside netnsPath.
	DialContext(ctx context.Context, netnsPath, network, addr string) (net.Conn, error)
}

// ImageChecker is optionally implemented by a runtime.Runtime that can tell whether an image
// is already present: kubelet-lite then reports `Container image "x" already present on machine`
// instead of Pulling/Pulled events, honours imagePullPolicy, and fills containerStatuses[].imageID.
type ImageChecker interface {
	// ImagePresent returns the image's ID (a digest reference) when the image is present.
	ImagePresent(ctx context.Context, ref string) (imageID string, present bool, err error)
}

// RuntimeVersioner is optionally implemented by a runtime.Runtime to report its version in
// Node.status.nodeInfo.containerRuntimeVersion ("containerd://1.6.20").
type RuntimeVersioner interface {
	Version(ctx context.Context) (string, error)
}

// Config describes one simulated node.
type Config struct {
	NodeName string
	NodeIP   netip.Addr
	PodCIDR  netip.Prefix
	// NodeNetNSPath is the node's network namespace (hostNetwork pods run there).
	NodeNetNSPath string
	ControlPlane  bool
	Taints        []corev1.Taint
	// Labels are added to the well-known node labels.
	Labels map[string]string
	// StateDir holds this node's pod files: logs, volumes, resolv.conf and hosts files.
	StateDir string
	Runtime  runtime.Runtime
	Network  PodNetwork
	// Dialer reaches pods for probes; nil dials from the calling process's namespace.
	Dialer        Dialer
	ClusterDNS    netip.Addr
	ClusterDomain string
	// TokenAudiences are the default audiences of service-account tokens (empty: the API
	// server's default).
	TokenAudiences []string
	Log            *slog.Logger

	// Clock drives back-off, probes and heartbeats; nil is the real clock (tests inject a fake).
	Clock clock.WithTicker
	// Recorder receives events; nil records them to the API server as component "kubelet".
	Recorder record.EventRecorder
	// HostResolvConf is the host's resolv.conf for dnsPolicy Default; empty means
	// /etc/resolv.conf (or systemd-resolved's upstream file when that one only lists a stub).
	HostResolvConf string
	// HostsFile is the node's hosts file for hostNetwork pods; empty means /etc/hosts.
	HostsFile string
}

// Kubelet is kubelet-lite for one node.
type Kubelet struct {
	client  kubernetes.Interface
	cfg     Config
	log     *slog.Logger
	clock   clock.WithTicker
	rt      runtime.Runtime
	net     PodNetwork
	dialer  Dialer
	rec     record.EventRecorder
	bcast   record.EventBroadcaster
	backoff *flowcontrol.Backoff // crash-loop back-off per pod UID and container
	pullBO  *flowcontrol.Backoff // image pull back-off per pod UID and image
	probes  *probeResults
	logIdx  *logIndexer

	// Informer-backed listers; nil until Run starts them.
	podLister     corelisters.PodLister
	serviceLister corelisters.ServiceLister

	// manualProbes leaves probers unstarted: tests drive them with doProbe.
	manualProbes bool

	mu       sync.Mutex
	workers  map[types.UID]*podWorker
	stopping bool
}

// New validates cfg and returns a kubelet that does nothing until Run.
func New(client kubernetes.Interface, cfg Config) (*Kubelet, error) {
	if client == nil {
		return nil, errors.New("kubelet: nil client")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("kubelet: NodeName is required")
	}
	if cfg.Runtime == nil || cfg.Network == nil {
		return nil, fmt.Errorf("kubelet %s: Runtime and Network are required", cfg.NodeName)
	}
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("kubelet %s: StateDir is required", cfg.NodeName)
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("kubelet %s: state dir: %w", cfg.NodeName, err)
	}
	k := &Kubelet{
		client:  client,
		cfg:     cfg,
		log:     cfg.Log.With("component", "kubelet", "node", cfg.NodeName),
		clock:   cfg.Clock,
		rt:      cfg.Runtime,
		net:     cfg.Network,
		dialer:  cfg.Dialer,
		rec:     cfg.Recorder,
		backoff: flowcontrol.NewFakeBackOff(10*time.Second, 5*time.Minute, cfg.Clock),
		pullBO:  flowcontrol.NewFakeBackOff(10*time.Second, 5*time.Minute, cfg.Clock),
		probes:  newProbeResults(),
		workers: map[types.UID]*podWorker{},
	}
	k.logIdx = newLogIndexer(k.clock)
	if k.dialer == nil {
		k.dialer = plainDialer{}
	}
	if k.rec == nil {
		k.bcast = record.NewBroadcaster()
		k.rec = k.bcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.NodeName})
	}
	return k, nil
}

// plainDialer dials from the current namespace.
type plainDialer struct{}

func (plainDialer) DialContext(ctx context.Context, _, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Run registers the node, keeps its Lease and status fresh and runs the pods bound to it. It
// returns when ctx is done; pods keep running (StopAllPods stops them).
func (k *Kubelet) Run(ctx context.Context) error {
	if k.bcast != nil {
		k.bcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
		defer k.bcast.Shutdown()
	}
	k.recordNodeEvent(corev1.EventTypeNormal, "Starting", "Starting kubelet.")
	if err := k.registerNode(ctx); err != nil {
		return err
	}
	go k.heartbeat(ctx)

	podFactory := informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + k.cfg.NodeName }))
	svcFactory := informers.NewSharedInformerFactory(k.client, 0)
	podInf := podFactory.Core().V1().Pods()
	svcInf := svcFactory.Core().V1().Services()
	k.podLister = podInf.Lister()
	k.serviceLister = svcInf.Lister()
	_, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podChanged(ctx, obj) },
		UpdateFunc: func(_, obj any) { k.podChanged(ctx, obj) },
		DeleteFunc: func(obj any) { k.podRemoved(obj) },
	})
	if err != nil {
		return fmt.Errorf("kubelet %s: pod handler: %w", k.cfg.NodeName, err)
	}
	svcInf.Informer()
	podFactory.Start(ctx.Done())
	svcFactory.Start(ctx.Done())
	defer podFactory.Shutdown()
	defer svcFactory.Shutdown()
	// Services first: a pod's environment needs them.
	cache.WaitForCacheSync(ctx.Done(), svcInf.Informer().HasSynced)
	cache.WaitForCacheSync(ctx.Done(), podInf.Informer().HasSynced)

	go k.logIdx.run(ctx)
	go k.housekeeping(ctx)
	<-ctx.Done()
	k.mu.Lock()
	workers := make([]*podWorker, 0, len(k.workers))
	for _, w := range k.workers {
		workers = append(workers, w)
	}
	k.mu.Unlock()
	for _, w := range workers {
		w.wait()
	}
	return nil
}

// StopAllPods stops every pod this kubelet runs, each with its termination grace period, and
// tears down their networks; the API objects are left alone (the lab is going down).
func (k *Kubelet) StopAllPods(ctx context.Context) error {
	k.mu.Lock()
	k.stopping = true
	workers := make([]*podWorker, 0, len(k.workers))
	for _, w := range k.workers {
		workers = append(workers, w)
	}
	k.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Go(func() { errs[i] = w.stopAll(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// podDir is where a pod's volumes and generated files live.
func (k *Kubelet) podDir(uid types.UID) string {
	return filepath.Join(k.cfg.StateDir, "pods", string(uid))
}

// logDir is where a pod's container logs live (like /var/log/pods/<ns>_<name>_<uid>).
func (k *Kubelet) logDir(pod *corev1.Pod) string {
	return filepath.Join(k.cfg.StateDir, "logs", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}
