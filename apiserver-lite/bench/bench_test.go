package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/svclab/svclab/apiserver-lite/apiservertest"
)

const (
	// objects is how many Services (each with an Endpoints object) a create step makes and
	// a list returns.
	objects = 1000
	// createWorkers is the number of concurrent clients that create objects.
	createWorkers = 8
	// getRequests and listRequests are sequential requests per iteration.
	getRequests  = 300
	listRequests = 20
	// watchers watch one Service; watchUpdates writes each fan out to all of them.
	watchers     = 100
	watchUpdates = 30
	// deliveryTimeout bounds how long one event may take to reach every watcher.
	deliveryTimeout = 30 * time.Second
)

// baselines are measured by earlier sub-benchmarks of the same run; a ratio is reported
// only when its baseline ran.
type baselines struct {
	configMapRate float64       // ConfigMap creates per second
	getP50        time.Duration // GET of one Service
	oneWatcherP50 time.Duration // write-to-event latency with a single watcher
}

// BenchmarkAPIServer runs an in-process API server (with etcd and the watch cache) and
// measures creates, lists and watch fan-out against it. Run it through `make bench`.
func BenchmarkAPIServer(b *testing.B) {
	srv := apiservertest.Start(b, apiservertest.Options{})
	cfg := rest.CopyConfig(srv.AdminConfig)
	cfg.QPS = -1 // no client-side rate limit: measure the server
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	bb := &bench{client: client, ctx: context.Background()}
	base := &baselines{}

	b.Run("create/ConfigMap", func(b *testing.B) {
		s := &samples{}
		for i := 0; i < b.N; i++ {
			ns := bb.namespace(b, "cm")
			bb.must(b, runParallel(s, objects, createWorkers, func(i int) error {
				_, err := client.CoreV1().ConfigMaps(ns).Create(bb.ctx, configMap(i), metav1.CreateOptions{})
				return err
			}))
		}
		s.report(b)
		base.configMapRate = s.rate()
	})
	b.Run("create/Service", func(b *testing.B) {
		s := &samples{}
		for i := 0; i < b.N; i++ {
			ns := bb.namespace(b, "svc")
			bb.must(b, runParallel(s, objects, createWorkers, func(i int) error {
				_, err := client.CoreV1().Services(ns).Create(bb.ctx, service(i), metav1.CreateOptions{})
				return err
			}))
			bb.serviceNS = ns
		}
		s.report(b)
		reportRateRatio(b, s, base.configMapRate)
	})
	b.Run("create/Endpoints", func(b *testing.B) {
		s := &samples{}
		for i := 0; i < b.N; i++ {
			ns := bb.serviceNS // the Endpoints of the Services just created
			if ns == "" || i > 0 {
				ns = bb.namespace(b, "ep")
			}
			bb.must(b, runParallel(s, objects, createWorkers, func(i int) error {
				_, err := client.CoreV1().Endpoints(ns).Create(bb.ctx, endpoints(i), metav1.CreateOptions{})
				return err
			}))
			if i == 0 && ns == bb.serviceNS {
				bb.populatedNS = ns
			}
		}
		s.report(b)
		reportRateRatio(b, s, base.configMapRate)
	})
	b.Run("get/Service", func(b *testing.B) {
		ns := bb.populated(b)
		s := &samples{}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			bb.must(b, runParallel(s, getRequests, 1, func(i int) error {
				_, err := client.CoreV1().Services(ns).Get(bb.ctx, serviceName(i%objects), metav1.GetOptions{})
				return err
			}))
		}
		s.report(b)
		base.getP50 = s.percentile(50)
	})
	b.Run("list/Services", func(b *testing.B) {
		ns := bb.populated(b)
		s := &samples{}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			bb.must(b, runParallel(s, listRequests, 1, func(int) error {
				l, err := client.CoreV1().Services(ns).List(bb.ctx, metav1.ListOptions{})
				if err == nil && len(l.Items) != objects {
					err = fmt.Errorf("listed %d Services, want %d", len(l.Items), objects)
				}
				return err
			}))
		}
		s.report(b)
		reportLatencyRatio(b, s, base.getP50, "x-GET-p50")
	})
	b.Run("list/Endpoints", func(b *testing.B) {
		ns := bb.populated(b)
		s := &samples{}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			bb.must(b, runParallel(s, listRequests, 1, func(int) error {
				l, err := client.CoreV1().Endpoints(ns).List(bb.ctx, metav1.ListOptions{})
				if err == nil && len(l.Items) != objects {
					err = fmt.Errorf("listed %d Endpoints, want %d", len(l.Items), objects)
				}
				return err
			}))
		}
		s.report(b)
		reportLatencyRatio(b, s, base.getP50, "x-GET-p50")
	})
	b.Run("watch/1-watcher", func(b *testing.B) {
		s := &samples{}
		for i := 0; i < b.N; i++ {
			bb.fanOut(b, s, 1)
		}
		s.report(b)
		base.oneWatcherP50 = s.percentile(50)
	})
	b.Run(fmt.Sprintf("watch/%d-watchers", watchers), func(b *testing.B) {
		s := &samples{}
		for i := 0; i < b.N; i++ {
			bb.fanOut(b, s, watchers)
		}
		s.report(b)
		reportLatencyRatio(b, s, base.oneWatcherP50, "x-1-watcher-p50")
	})
}

// bench holds the client and what earlier steps left behind.
type bench struct {
	client      kubernetes.Interface
	ctx         context.Context
	seq         int
	serviceNS   string // namespace of the last create/Service step
	populatedNS string // a namespace with `objects` Services and Endpoints
}

func (bb *bench) must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// namespace creates a fresh namespace (untimed).
func (bb *bench) namespace(b *testing.B, prefix string) string {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	bb.seq++
	name := fmt.Sprintf("bench-%s-%d", prefix, bb.seq)
	_, err := bb.client.CoreV1().Namespaces().Create(bb.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	bb.must(b, err)
	return name
}

// populated returns a namespace holding `objects` Services and Endpoints, creating them
// (untimed) when the create steps did not run.
func (bb *bench) populated(b *testing.B) string {
	b.Helper()
	if bb.populatedNS != "" {
		return bb.populatedNS
	}
	ns := bb.namespace(b, "fixture")
	s := &samples{}
	bb.must(b, runParallel(s, objects, createWorkers, func(i int) error {
		if _, err := bb.client.CoreV1().Services(ns).Create(bb.ctx, service(i), metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := bb.client.CoreV1().Endpoints(ns).Create(bb.ctx, endpoints(i), metav1.CreateOptions{})
		return err
	}))
	bb.populatedNS = ns
	return ns
}

// fanOut starts n watchers on one Service, updates it watchUpdates times and records, for
// every watcher, the time from the start of each update to the event's arrival.
func (bb *bench) fanOut(b *testing.B, s *samples, n int) {
	b.Helper()
	b.StopTimer()
	ns := bb.namespace(b, "watch")
	b.StopTimer()
	target, err := bb.client.CoreV1().Services(ns).Create(bb.ctx, service(0), metav1.CreateOptions{})
	bb.must(b, err)
	ctx, cancel := context.WithCancel(bb.ctx)
	defer cancel()
	var writeStart atomic.Int64 // UnixNano of the update in flight
	got := make(chan time.Duration, n)
	for w := 0; w < n; w++ {
		wi, err := bb.client.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{
			ResourceVersion: target.ResourceVersion,
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", target.Name).String(),
		})
		bb.must(b, err)
		go func() {
			defer wi.Stop()
			for ev := range wi.ResultChan() {
				if ev.Type == watch.Modified {
					got <- time.Since(time.Unix(0, writeStart.Load()))
				}
			}
		}()
	}
	b.StartTimer()
	start := time.Now()
	for u := 0; u < watchUpdates; u++ {
		target.Labels = map[string]string{"update": strconv.Itoa(u)}
		writeStart.Store(time.Now().UnixNano())
		target, err = bb.client.CoreV1().Services(ns).Update(bb.ctx, target, metav1.UpdateOptions{})
		bb.must(b, err)
		timeout := time.After(deliveryTimeout)
		for w := 0; w < n; w++ {
			select {
			case d := <-got:
				s.add(d)
			case <-timeout:
				b.Fatalf("update %d reached %d of %d watchers within %v", u, w, n, deliveryTimeout)
			}
		}
	}
	s.mu.Lock()
	s.off += time.Since(start)
	s.mu.Unlock()
}

// reportRateRatio reports s's rate relative to a baseline rate (above 1 is faster).
func reportRateRatio(b *testing.B, s *samples, baseRate float64) {
	if baseRate > 0 {
		b.ReportMetric(s.rate()/baseRate, "x-ConfigMap-rate")
	}
}

// reportLatencyRatio reports s's p50 relative to a baseline p50 (above 1 is slower).
func reportLatencyRatio(b *testing.B, s *samples, base time.Duration, unit string) {
	if base > 0 {
		b.ReportMetric(float64(s.percentile(50))/float64(base), unit)
	}
}

func serviceName(i int) string { return fmt.Sprintf("svc-%04d", i) }

func configMap(i int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%04d", i)},
		Data:       map[string]string{"index": strconv.Itoa(i)},
	}
}

func service(i int) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: serviceName(i), Labels: map[string]string{"app": serviceName(i)}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": serviceName(i)},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}

func endpoints(i int) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: serviceName(i)},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: fmt.Sprintf("10.244.%d.%d", 1+i/250, 1+i%250)}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		}},
	}
}
