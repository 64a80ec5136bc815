package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// DefaultDeletionGracePeriod is how long the controller waits after seeing a
// namespace's deletionTimestamp before emptying it, as upstream (it lets
// last-moment creates land first).
const DefaultDeletionGracePeriod = 5 * time.Second

// DiscoverFunc lists the namespaced resources the server serves.
type DiscoverFunc func() ([]*metav1.APIResourceList, error)

// Option configures a Controller.
type Option func(*Controller) error

// WithDeletionGracePeriod sets the delay before a terminating namespace is
// processed (default DefaultDeletionGracePeriod).
func WithDeletionGracePeriod(d time.Duration) Option {
	return func(c *Controller) error {
		if d < 0 {
			return fmt.Errorf("deletion grace period must not be negative, got %s", d)
		}
		c.gracePeriod = d
		return nil
	}
}

// WithDiscovery replaces the discovery of namespaced resources (by default
// discovery.ServerPreferredNamespacedResources on client.Discovery()).
func WithDiscovery(fn DiscoverFunc) Option {
	return func(c *Controller) error {
		if fn == nil {
			return errors.New("discovery function must not be nil")
		}
		c.deleter.discover = fn
		return nil
	}
}

// Controller finalizes terminating namespaces.
type Controller struct {
	log         *slog.Logger
	lister      corelisters.NamespaceLister
	synced      cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	deleter     *deleter
	gracePeriod time.Duration
}

// New returns a namespace controller. It watches Namespaces through factory
// (the caller starts factory after New), deletes namespace content through
// metadataClient (metadata-only list, delete and deletecollection on every
// namespaced resource discovery reports as deletable) and finalizes through
// client.CoreV1().Namespaces().Finalize.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, metadataClient metadata.Interface, opts ...Option) (*Controller, error) {
	if client == nil || factory == nil || metadataClient == nil {
		return nil, errors.New("namespace controller: client, informer factory and metadata client are required")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "namespace-controller")
	c := &Controller{
		log: log,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 60*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"},
		),
		deleter: &deleter{
			nsClient:       client.CoreV1().Namespaces(),
			podsGetter:     client.CoreV1(),
			metadataClient: metadataClient,
			discover: func() ([]*metav1.APIResourceList, error) {
				return discovery.ServerPreferredNamespacedResources(client.Discovery())
			},
			log: log,
		},
		gracePeriod: DefaultDeletionGracePeriod,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("namespace controller: %w", err)
		}
	}
	inf := factory.Core().V1().Namespaces()
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("namespace controller: add event handler: %w", err)
	}
	c.lister = inf.Lister()
	c.synced = inf.Informer().HasSynced
	return c, nil
}

// Run starts workers goroutines and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	c.log.Info("starting controller", "workers", workers)
	defer c.log.Info("shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
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
	// Revisit terminating namespaces periodically, as upstream's informer
	// resync does, in case content appeared after a namespace was finalized
	// by another finalizer owner or an event was missed.
	wait.UntilWithContext(ctx, c.requeueTerminating, resyncPeriod)
	c.queue.ShutDown()
	wg.Wait()
}

// resyncPeriod is how often terminating namespaces are re-queued.
const resyncPeriod = 5 * time.Minute

func (c *Controller) requeueTerminating(context.Context) {
	list, err := c.lister.List(labels.Everything())
	if err != nil {
		c.log.Warn("cannot list namespaces", "err", err)
		return
	}
	for _, ns := range list {
		c.enqueue(ns)
	}
}

func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*v1.Namespace)
	if !ok || ns.DeletionTimestamp == nil || ns.DeletionTimestamp.IsZero() {
		return
	}
	c.queue.AddAfter(ns.Name, c.gracePeriod)
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
	err := c.syncNamespace(ctx, key)
	if err == nil {
		c.queue.Forget(key)
		return true
	}
	var remaining *ResourcesRemainingError
	if errors.As(err, &remaining) {
		// Content is going away (graceful Pods, finalizers): check back later.
		c.log.Debug("content remains in namespace", "namespace", key, "estimateSeconds", remaining.Estimate)
		c.queue.AddAfter(key, time.Duration(remaining.Estimate/2+1)*time.Second)
		return true
	}
	c.log.Warn("deletion of namespace failed, retrying", "namespace", key, "err", err)
	c.queue.AddRateLimited(key)
	return true
}

func (c *Controller) syncNamespace(ctx context.Context, name string) error {
	if _, err := c.lister.Get(name); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return c.deleter.Delete(ctx, name)
}
