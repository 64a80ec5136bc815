package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	endpointsliceutil "k8s.io/endpointslice/util"
	"k8s.io/klog/v2"
)

// maxRetries is how often a Service is retried before it is dropped from the
// queue (5ms*2^(maxRetries-1) with the default rate limiter), as upstream.
const maxRetries = 15

// Option configures a Controller.
type Option func(*Controller) error

// WithBatchPeriod delays syncs triggered by Pod changes by d so that bursts of
// Pod updates produce one Endpoints write (upstream's
// --endpoint-updates-batch-period). The default is 0.
func WithBatchPeriod(d time.Duration) Option {
	return func(c *Controller) error {
		if d < 0 {
			return fmt.Errorf("batch period must not be negative, got %s", d)
		}
		c.batchPeriod = d
		return nil
	}
}

// Controller manages the Endpoints of selector-based Services.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	klog   klog.Logger

	serviceLister   corelisters.ServiceLister
	podLister       corelisters.PodLister
	endpointsLister corelisters.EndpointsLister
	synced          []cache.InformerSynced

	queue              workqueue.TypedRateLimitingInterface[string]
	stale              *staleTracker
	triggerTimeTracker *endpointsliceutil.TriggerTimeTracker
	broadcaster        record.EventBroadcaster
	recorder           record.EventRecorder
	batchPeriod        time.Duration
}

// New returns an endpoints controller that watches Services, Pods and
// Endpoints through factory. The caller starts factory after New returns.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts ...Option) (*Controller, error) {
	if client == nil || factory == nil {
		return nil, errors.New("endpoints controller: client and informer factory are required")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "endpoints-controller")
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client: client,
		log:    log,
		klog:   logr.FromSlogHandler(log.Handler()),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint"},
		),
		stale:              newStaleTracker(),
		triggerTimeTracker: endpointsliceutil.NewTriggerTimeTracker(),
		broadcaster:        broadcaster,
		recorder:           broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "endpoint-controller"}),
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("endpoints controller: %w", err)
		}
	}

	svcInformer := factory.Core().V1().Services()
	podInformer := factory.Core().V1().Pods()
	epInformer := factory.Core().V1().Endpoints()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueObject,
			UpdateFunc: func(_, cur any) { c.enqueueObject(cur) },
			DeleteFunc: c.enqueueObject,
		}},
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.onPodChange(nil, obj) },
			UpdateFunc: c.onPodChange,
			DeleteFunc: func(obj any) { c.onPodChange(nil, obj) },
		}},
		{epInformer.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.enqueueObject}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpoints controller: add event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	c.serviceLister = svcInformer.Lister()
	c.podLister = podInformer.Lister()
	c.endpointsLister = epInformer.Lister()
	return c, nil
}

// Run starts workers goroutines and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()

	c.log.Info("starting controller", "workers", workers)
	defer c.log.Info("shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.worker, time.Second)
		}()
	}
	c.checkLeftoverEndpoints()
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

// enqueueObject queues the namespace/name of a Service or Endpoints object
// (both share the key of the Service).
func (c *Controller) enqueueObject(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot compute key", "err", err)
		return
	}
	c.queue.Add(key)
}

// onPodChange queues every Service whose selector matched the Pod before or
// after the change, when the change can affect endpoints.
func (c *Controller) onPodChange(old, cur any) {
	key := endpointsliceutil.GetPodUpdateProjectionKey(old, cur)
	services, err := endpointsliceutil.GetServicesToUpdate(c.serviceLister, key)
	if err != nil {
		c.log.Error("cannot find services for pod", "err", err)
		return
	}
	for svc := range services {
		c.queue.AddAfter(svc, c.batchPeriod)
	}
}

func (c *Controller) worker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.syncService(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
	case c.queue.NumRequeues(key) < maxRetries:
		c.log.Debug("error syncing endpoints, retrying", "service", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.log.Warn("dropping service out of the queue", "service", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}

// checkLeftoverEndpoints queues every existing Endpoints object once at
// start-up so that Endpoints whose Service vanished while the controller was
// down get deleted. Leader-election records are skipped, as upstream.
func (c *Controller) checkLeftoverEndpoints() {
	list, err := c.endpointsLister.List(labels.Everything())
	if err != nil {
		c.log.Error("cannot list endpoints, leftover endpoints will not be cleaned up", "err", err)
		return
	}
	for _, ep := range list {
		if _, ok := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]; ok {
			continue
		}
		c.enqueueObject(ep)
	}
}

// staleTracker remembers the resourceVersion of Endpoints this controller
// replaced, so a lagging informer cache is detected instead of acted upon.
type staleTracker struct {
	mu sync.Mutex
	m  map[string]string
}

func newStaleTracker() *staleTracker { return &staleTracker{m: map[string]string{}} }

func (t *staleTracker) markStale(ep *v1.Endpoints) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[ep.Namespace+"/"+ep.Name] = ep.ResourceVersion
}

func (t *staleTracker) isStale(ep *v1.Endpoints) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rv, ok := t.m[ep.Namespace+"/"+ep.Name]
	return ok && rv == ep.ResourceVersion
}

func (t *staleTracker) forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, namespace+"/"+name)
}
