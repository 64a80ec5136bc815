package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// DefaultIgnoredResources are never watched, as upstream: events are
// numerous and never own anything.
var DefaultIgnoredResources = []schema.GroupResource{
	{Group: "", Resource: "events"},
	{Group: "events.k8s.io", Resource: "events"},
}

// DiscoverFunc lists the resources the server serves (all groups, preferred
// versions), like discovery.ServerPreferredResources.
type DiscoverFunc func() ([]*metav1.APIResourceList, error)

// Option configures a Controller.
type Option func(*Controller) error

// WithDiscovery replaces the resource discovery (by default
// discovery.ServerPreferredResources on client.Discovery()).
func WithDiscovery(fn DiscoverFunc) Option {
	return func(c *Controller) error {
		if fn == nil {
			return errors.New("discovery function must not be nil")
		}
		c.discover = fn
		return nil
	}
}

// WithResources makes the collector use this fixed list of served resources
// instead of asking the discovery API.
func WithResources(resources []*metav1.APIResourceList) Option {
	return WithDiscovery(func() ([]*metav1.APIResourceList, error) { return resources, nil })
}

// WithIgnoredResources replaces DefaultIgnoredResources.
func WithIgnoredResources(grs ...schema.GroupResource) Option {
	return func(c *Controller) error {
		c.ignored = sets.New(grs...)
		return nil
	}
}

// resourceInfo is what discovery says about one resource.
type resourceInfo struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// Controller is the garbage collector.
type Controller struct {
	log      *slog.Logger
	metadata metadata.Interface
	discover DiscoverFunc
	ignored  sets.Set[schema.GroupResource]

	// Filled by Run once discovery succeeded; read-only afterwards.
	byKind    map[schema.GroupKind]resourceInfo // every discovered resource, for owner lookups
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer

	attemptToDelete workqueue.TypedRateLimitingInterface[objectRef]
	attemptToOrphan workqueue.TypedRateLimitingInterface[objectRef]
}

// New returns a garbage collector. It watches, through its own metadata-only
// informers on metadataClient, every resource discovery reports with the
// list, watch and delete verbs (minus DefaultIgnoredResources), and deletes
// and patches objects through metadataClient. factory is accepted for
// symmetry with the other controllers and not used; it may be nil.
// Discovery runs when Run starts; resources added later (CRDs) are not
// picked up until the collector is restarted.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, metadataClient metadata.Interface, opts ...Option) (*Controller, error) {
	_ = factory
	if metadataClient == nil {
		return nil, errors.New("garbage collector: metadata client is required")
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{
		log:      log.With("component", "garbage-collector"),
		metadata: metadataClient,
		ignored:  sets.New(DefaultIgnoredResources...),
		attemptToDelete: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[objectRef](),
			workqueue.TypedRateLimitingQueueConfig[objectRef]{Name: "garbage_collector_attempt_to_delete"}),
		attemptToOrphan: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[objectRef](),
			workqueue.TypedRateLimitingQueueConfig[objectRef]{Name: "garbage_collector_attempt_to_orphan"}),
	}
	if client != nil {
		c.discover = func() ([]*metav1.APIResourceList, error) {
			return discovery.ServerPreferredResources(client.Discovery())
		}
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("garbage collector: %w", err)
		}
	}
	if c.discover == nil {
		return nil, errors.New("garbage collector: a kubernetes client or WithDiscovery/WithResources is required")
	}
	return c, nil
}

// Run discovers the served resources, starts one metadata informer per
// resource and workers goroutines per queue, and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.attemptToDelete.ShutDown()
	defer c.attemptToOrphan.ShutDown()
	c.log.Info("starting controller", "workers", workers)
	defer c.log.Info("shutting down controller")

	var resources []*metav1.APIResourceList
	err := wait.PollUntilContextCancel(ctx, 5*time.Second, true, func(context.Context) (bool, error) {
		var err error
		resources, err = c.discover()
		if err != nil && len(resources) == 0 {
			c.log.Warn("resource discovery failed, retrying", "err", err)
			return false, nil
		}
		if err != nil {
			c.log.Warn("partial resource discovery, continuing with what was found", "err", err)
		}
		return true, nil
	})
	if err != nil {
		return
	}
	factory := metadatainformer.NewSharedInformerFactory(c.metadata, 0)
	if err := c.setupInformers(factory, resources); err != nil {
		c.log.Error("cannot set up informers", "err", err)
		return
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	synced := make([]cache.InformerSynced, 0, len(c.informers))
	for _, inf := range c.informers {
		synced = append(synced, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	c.log.Info("all resource monitors synced", "resources", len(c.informers))

	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.runAttemptToDeleteWorker, time.Second)
		}()
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.runAttemptToOrphanWorker, time.Second)
		}()
	}
	<-ctx.Done()
	c.attemptToDelete.ShutDown()
	c.attemptToOrphan.ShutDown()
	wg.Wait()
}

// setupInformers records every resource's kind and creates informers, with
// uid and owner-uid indexes, for those the collector can list, watch and
// delete.
func (c *Controller) setupInformers(factory metadatainformer.SharedInformerFactory, resources []*metav1.APIResourceList) error {
	c.byKind = map[schema.GroupKind]resourceInfo{}
	c.informers = map[schema.GroupVersionResource]cache.SharedIndexInformer{}
	for _, rl := range resources {
		gv, err := schema.ParseGroupVersion(rl.GroupVersion)
		if err != nil {
			c.log.Warn("skipping unparsable group version", "groupVersion", rl.GroupVersion, "err", err)
			continue
		}
		for _, r := range rl.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresource
			}
			info := resourceInfo{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced}
			gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
			if _, seen := c.byKind[gk]; !seen {
				c.byKind[gk] = info
			}
			verbs := sets.New([]string(r.Verbs)...)
			if !verbs.HasAll("list", "watch", "delete") || c.ignored.Has(info.gvr.GroupResource()) {
				continue
			}
			if _, dup := c.informers[info.gvr]; dup {
				continue
			}
			inf := factory.ForResource(info.gvr).Informer()
			if err := inf.AddIndexers(cache.Indexers{uidIndex: indexByUID, ownerIndex: indexByOwnerUID}); err != nil {
				return fmt.Errorf("add indexers for %s: %w", info.gvr, err)
			}
			if _, err := inf.AddEventHandler(c.handlerFor(info)); err != nil {
				return fmt.Errorf("add event handler for %s: %w", info.gvr, err)
			}
			c.informers[info.gvr] = inf
		}
	}
	return nil
}

func (c *Controller) runAttemptToDeleteWorker(ctx context.Context) {
	for c.processQueue(ctx, c.attemptToDelete, c.attemptToDeleteItem) {
	}
}

func (c *Controller) runAttemptToOrphanWorker(ctx context.Context) {
	for c.processQueue(ctx, c.attemptToOrphan, c.attemptToOrphanItem) {
	}
}

// processQueue handles one item; failures are retried with back-off for as
// long as the collector runs, as upstream.
func (c *Controller) processQueue(ctx context.Context, q workqueue.TypedRateLimitingInterface[objectRef], fn func(context.Context, objectRef) error) bool {
	item, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(item)
	if err := fn(ctx, item); err != nil {
		c.log.Debug("garbage collection failed, retrying", "object", item.String(), "err", err)
		q.AddRateLimited(item)
		return true
	}
	q.Forget(item)
	return true
}
