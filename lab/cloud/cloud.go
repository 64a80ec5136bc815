package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Finalizer is the finalizer the cloud keeps on a LoadBalancer Service, as upstream's service
// controller does, so a deleted Service's address and route are released before it goes.
const Finalizer = "service.kubernetes.io/load-balancer-cleanup"

// Component is the source of the Events the cloud records (upstream's name for it).
const Component = "service-controller"

// ExcludeLabel keeps a node out of every load balancer, as on a real cloud.
const ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

// Options configures Run.
type Options struct {
	// Pool is the LoadBalancer address range (--lb-cidr, 172.30.1.0/24 by default).
	Pool netip.Prefix
	// Routes programs the host routes to the nodes (NewRoutes(lab) in a lab).
	Routes Routes
	// Log receives the controller's logs (default: discard).
	Log *slog.Logger
	// Recorder records Events on Services (default: core/v1 Events written through the client,
	// from Component).
	Recorder record.EventRecorder
}

// controller is the LoadBalancer controller. One worker runs sync, so the pool and the route
// cache need no lock.
type controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	nodes    corelisters.NodeLister
	queue    workqueue.TypedRateLimitingInterface[string]
	routes   Routes
	rec      record.EventRecorder
	log      *slog.Logger

	pool     *pool
	routed   map[string]Route  // the /32 route installed per Service key
	waiting  map[string]bool   // Services that could not get an address
	lastWarn map[string]string // the last warning per Service, so a retry does not repeat it
}

// Run runs the LoadBalancer controller until ctx is done, like a cloud provider's service
// controller: it gives every `type: LoadBalancer` Service without spec.loadBalancerClass an
// address from opts.Pool (spec.loadBalancerIP when free), routes it from the host to the
// nodes (ECMP; with externalTrafficPolicy Local only to nodes with a ready endpoint), writes
// status.loadBalancer.ingress and records Events on the Service. At start it rebuilds the
// allocation from the Services' status, so no address is handed out twice across restarts.
// Routes stay in place when Run returns; the lab's network teardown removes them.
func Run(ctx context.Context, client kubernetes.Interface, opts Options) error {
	p, err := newPool(opts.Pool)
	if err != nil {
		return err
	}
	if opts.Routes == nil {
		return errors.New("cloud: Options.Routes is nil (use cloud.NewRoutes)")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rec := opts.Recorder
	if rec == nil {
		b := record.NewBroadcaster(record.WithContext(ctx))
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		defer b.Shutdown()
		rec = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component})
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	nodeInf := factory.Core().V1().Nodes()
	c := &controller{
		client:   client,
		services: svcInf.Lister(),
		slices:   sliceInf.Lister(),
		nodes:    nodeInf.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cloud"}),
		routes:   opts.Routes,
		rec:      rec,
		log:      log.With("component", "cloud", "pool", p.prefix),
		pool:     p,
		routed:   map[string]Route{},
		waiting:  map[string]bool{},
		lastWarn: map[string]string{},
	}
	defer c.queue.ShutDown()

	svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueService,
		UpdateFunc: func(_, obj any) { c.enqueueService(obj) },
		DeleteFunc: c.enqueueService,
	})
	sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueSlice,
		UpdateFunc: func(old, obj any) { c.enqueueSlice(old); c.enqueueSlice(obj) },
		DeleteFunc: c.enqueueSlice,
	})
	nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.enqueueAll() },
		UpdateFunc: func(any, any) { c.enqueueAll() },
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("cloud: informer for %v did not sync", typ)
		}
	}
	if err := c.start(ctx); err != nil {
		return err
	}
	c.log.Info("cloud started", "addresses", len(c.pool.addr))
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	for c.processNext(ctx) {
	}
	return nil
}

// start rebuilds the allocation from the Services' status (oldest Service first, so of two
// claiming one address the older keeps it), makes the pool unreachable from the host, and
// removes /32 routes to addresses nobody holds any more.
func (c *controller) start(ctx context.Context) error {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(svcs, func(i, j int) bool {
		ti, tj := svcs[i].CreationTimestamp, svcs[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return key(svcs[i]) < key(svcs[j])
	})
	for _, svc := range svcs {
		if !wantsLB(svc) && !hasFinalizer(svc) {
			continue
		}
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(ing.IP); err == nil && c.pool.usable(a) {
				if err := c.pool.claim(key(svc), a); err != nil {
					c.log.Warn("address claimed twice: the newer Service gets another", "service", key(svc), "ip", a, "err", err)
				}
				break
			}
		}
	}
	if err := c.routes.Replace(ctx, Route{Dst: c.pool.prefix}); err != nil {
		return fmt.Errorf("cloud: make the pool unreachable: %w", err)
	}
	existing, err := c.routes.List(ctx)
	if err != nil {
		return fmt.Errorf("cloud: list routes: %w", err)
	}
	for _, r := range existing {
		if r.Dst == c.pool.prefix {
			continue
		}
		if _, held := c.pool.owner[r.Dst.Addr()]; !held || r.Dst.Bits() != 32 {
			if err := c.routes.Delete(ctx, r.Dst); err != nil {
				return fmt.Errorf("cloud: delete stale route: %w", err)
			}
		}
	}
	for _, svc := range svcs {
		c.queue.Add(key(svc))
	}
	return nil
}

func (c *controller) processNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	if err := c.sync(ctx, k); err != nil {
		if ctx.Err() != nil {
			return false
		}
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // a stale informer copy; the retry reads the new one
		}
		c.log.Log(ctx, level, "sync failed, retrying", "service", k, "err", err)
		c.queue.AddRateLimited(k)
		return true
	}
	c.queue.Forget(k)
	return true
}

func (c *controller) enqueueService(obj any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(k)
	}
}

func (c *controller) enqueueSlice(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
		c.queue.Add(s.Namespace + "/" + name)
	}
}

// enqueueAll queues every LoadBalancer Service and every one the cloud still holds.
func (c *controller) enqueueAll() {
	svcs, _ := c.services.List(labels.Everything())
	for _, svc := range svcs {
		if wantsLB(svc) || hasFinalizer(svc) {
			c.queue.Add(key(svc))
		}
	}
}
