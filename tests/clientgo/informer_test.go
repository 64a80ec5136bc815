package clientgo

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/apiserver-lite/apiservertest"
)

const (
	testNS = "informer-test"
	// eventTimeout bounds how long an informer may take to report one change.
	eventTimeout = 30 * time.Second
	// reconnectTimeout bounds how long an informer may take to come back after a restart
	// (client-go backs off up to 30s between watch attempts).
	reconnectTimeout = 90 * time.Second
)

// TestInformersAcrossRestart runs a SharedInformerFactory (client-go's defaults, so
// WatchList is on) for services, endpoints and pods; checks it sees every change, that it
// filled its caches through streaming lists only, and that it reconnects by itself after
// the server restarts on the same data dir and port, without losing an event.
func TestInformersAcrossRestart(t *testing.T) {
	addr := freeAddr(t)
	srv := apiservertest.Start(t, apiservertest.Options{Listen: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	reqs := newRequestLog("/services", "/endpoints", "/pods")
	cfg := rest.CopyConfig(srv.AdminConfig)
	cfg.WrapTransport = reqs.wrap
	informerClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An object that exists before the informers start must arrive through the initial list.
	pre, err := srv.Client.CoreV1().Services(testNS).Create(ctx, newService("pre"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	informerCtx, stopInformers := context.WithCancel(ctx)
	t.Cleanup(func() { stopInformers(); factory.Shutdown() })
	svcInf := factory.Core().V1().Services().Informer()
	epInf := factory.Core().V1().Endpoints().Informer()
	podInf := factory.Core().V1().Pods().Informer()
	for kind, inf := range map[string]cache.SharedIndexInformer{"Service": svcInf, "Endpoints": epInf, "Pod": podInf} {
		if _, err := inf.AddEventHandler(rec.handler(kind)); err != nil {
			t.Fatal(err)
		}
	}
	factory.Start(informerCtx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, 60*time.Second)
	synced := factory.WaitForCacheSync(syncCtx.Done())
	syncCancel()
	for typ, ok := range synced {
		if !ok {
			t.Fatalf("informer for %v did not sync within 60s (does the server end streaming lists with the k8s.io/initial-events-end bookmark?)", typ)
		}
	}
	waitEvent(t, rec, event{typ: added, kind: "Service", key: testNS + "/pre", rv: pre.ResourceVersion}, eventTimeout)
	assertStreamingListsOnly(t, reqs, "/services", "/endpoints", "/pods")

	c := srv.Client.CoreV1()
	m := &mutations{t: t, ctx: ctx, rec: rec}

	// Before the restart: every kind of change, one at a time, each seen with its type.
	svc := expect(m, added, "Service", "web", must(c.Services(testNS).Create(ctx, newService("web"), metav1.CreateOptions{})))
	svc.Labels = map[string]string{"tier": "frontend"}
	expect(m, updated, "Service", "web", must(c.Services(testNS).Update(ctx, svc, metav1.UpdateOptions{})))
	ep := expect(m, added, "Endpoints", "web", must(c.Endpoints(testNS).Create(ctx, newEndpoints("web", "10.244.1.5"), metav1.CreateOptions{})))
	ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, corev1.EndpointAddress{IP: "10.244.2.7"})
	expect(m, updated, "Endpoints", "web", must(c.Endpoints(testNS).Update(ctx, ep, metav1.UpdateOptions{})))
	pod := expect(m, added, "Pod", "p1", must(c.Pods(testNS).Create(ctx, newPod("p1"), metav1.CreateOptions{})))
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}}
	expect(m, updated, "Pod", "p1", must(c.Pods(testNS).UpdateStatus(ctx, pod, metav1.UpdateOptions{})))
	m.deleteAndExpect("Pod", "p1", c.Pods(testNS).Delete(ctx, "p1", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}))
	m.deleteAndExpect("Service", "pre", c.Services(testNS).Delete(ctx, "pre", metav1.DeleteOptions{}))

	// Restart on the same data dir and port. The informers keep running on their own.
	watchListsBefore, _, _ := reqs.snapshot()
	srv.Stop()
	srv = apiservertest.Start(t, apiservertest.Options{DataDir: srv.DataDir, Listen: addr})
	c = srv.Client.CoreV1()

	// A watch from a resourceVersion older than the restarted server's watch cache is
	// 410 Gone: "pre" was written before several other changes, and the cache starts at
	// the newest revision.
	assertWatchExpired(t, ctx, srv.Client, pre.ResourceVersion)

	// The first change after the restart may reach the informer through its re-list (an ADD)
	// or its watch; once it is seen the informer is connected again.
	after := must(c.Services(testNS).Create(ctx, newService("after"), metav1.CreateOptions{}))
	waitEvent(t, rec, event{kind: "Service", key: testNS + "/after", rv: after.ResourceVersion}, reconnectTimeout)

	ep = must(c.Endpoints(testNS).Get(ctx, "web", metav1.GetOptions{}))
	ep.Subsets[0].Addresses = ep.Subsets[0].Addresses[:1]
	expect(m, updated, "Endpoints", "web", must(c.Endpoints(testNS).Update(ctx, ep, metav1.UpdateOptions{})))
	expect(m, added, "Pod", "p2", must(c.Pods(testNS).Create(ctx, newPod("p2"), metav1.CreateOptions{})))
	svc = must(c.Services(testNS).Get(ctx, "web", metav1.GetOptions{}))
	svc.Labels["tier"] = "backend"
	expect(m, updated, "Service", "web", must(c.Services(testNS).Update(ctx, svc, metav1.UpdateOptions{})))
	expect(m, added, "Endpoints", "after", must(c.Endpoints(testNS).Create(ctx, newEndpoints("after", "10.244.3.9"), metav1.CreateOptions{})))
	m.deleteAndExpect("Endpoints", "web", c.Endpoints(testNS).Delete(ctx, "web", metav1.DeleteOptions{}))

	// Nothing lost: each cache equals a fresh list from the server, name and resourceVersion.
	waitCacheMatches(t, ctx, "Service", svcInf.GetStore(), func() (runtime.Object, error) {
		return srv.Client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	})
	waitCacheMatches(t, ctx, "Endpoints", epInf.GetStore(), func() (runtime.Object, error) {
		return srv.Client.CoreV1().Endpoints("").List(ctx, metav1.ListOptions{})
	})
	waitCacheMatches(t, ctx, "Pod", podInf.GetStore(), func() (runtime.Object, error) {
		return srv.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	})

	watchListsAfter, watches, plainLists := reqs.snapshot()
	if len(plainLists) != 0 {
		t.Errorf("informers sent %d plain LIST requests, want none (WatchList is on): %v", len(plainLists), plainLists)
	}
	t.Logf("requests: %d streaming-list watches (%d after the restart), %d resumed watches",
		len(watchListsAfter), len(watchListsAfter)-len(watchListsBefore), len(watches))
}

// mutations applies changes and waits until the informers report each one.
type mutations struct {
	t   *testing.T
	ctx context.Context
	rec *recorder
}

// expect waits for an event of typ for obj (at obj's resourceVersion) and returns obj.
func expect[T metav1.Object](m *mutations, typ eventType, kind, name string, obj T) T {
	m.t.Helper()
	waitEvent(m.t, m.rec, event{typ: typ, kind: kind, key: testNS + "/" + name, rv: obj.GetResourceVersion()}, eventTimeout)
	return obj
}

// deleteAndExpect checks the delete call and waits for the DELETE event.
func (m *mutations) deleteAndExpect(kind, name string, err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatalf("delete %s %s: %v", kind, name, err)
	}
	waitEvent(m.t, m.rec, event{typ: deleted, kind: kind, key: testNS + "/" + name}, eventTimeout)
}

func waitEvent(t *testing.T, rec *recorder, want event, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !rec.find(want) {
		if time.Now().After(deadline) {
			t.Fatalf("informers did not report %v within %v; they reported:\n%s", want, timeout, formatEvents(rec.all()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func formatEvents(events []event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "  %v\n", e)
	}
	return b.String()
}

func assertStreamingListsOnly(t *testing.T, reqs *requestLog, collections ...string) {
	t.Helper()
	watchLists, _, plainLists := reqs.snapshot()
	for _, c := range collections {
		found := false
		for _, uri := range watchLists {
			if strings.Contains(uri, c+"?") {
				found = true
			}
		}
		if !found {
			t.Errorf("no watch=true&sendInitialEvents=true request for %s; streaming lists: %v", c, watchLists)
		}
	}
	if len(plainLists) != 0 {
		t.Errorf("informers needed %d plain LIST requests, want none: %v", len(plainLists), plainLists)
	}
}

// assertWatchExpired opens a watch at rv and expects 410 Gone, either as the response or as
// the first event (kube-apiserver's watch cache answers with an ERROR event).
func assertWatchExpired(t *testing.T, ctx context.Context, client kubernetes.Interface, rv string) {
	t.Helper()
	w, err := client.CoreV1().Services(testNS).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Fatalf("watch from resourceVersion %s: %v, want 410 Gone", rv, err)
		}
		t.Logf("watch from resourceVersion %s: %v", rv, err)
		return
	}
	defer w.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch from resourceVersion %s closed without an event, want 410 Gone", rv)
		}
		status, isStatus := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !isStatus || status.Code != 410 {
			t.Fatalf("watch from resourceVersion %s: first event %s %#v, want an ERROR event with code 410", rv, ev.Type, ev.Object)
		}
		if status.Reason != metav1.StatusReasonExpired && status.Reason != metav1.StatusReasonGone {
			t.Errorf("410 reason = %q, want Expired or Gone", status.Reason)
		}
		t.Logf("watch from resourceVersion %s: ERROR event %d %s: %s", rv, status.Code, status.Reason, status.Message)
	case <-time.After(eventTimeout):
		t.Fatalf("watch from expired resourceVersion %s: no event within %v, want 410 Gone", rv, eventTimeout)
	}
}

// waitCacheMatches polls until store holds exactly the objects (and resourceVersions) list
// returns.
func waitCacheMatches(t *testing.T, ctx context.Context, kind string, store cache.Store, list func() (runtime.Object, error)) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		obj, err := list()
		if err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			t.Fatal(err)
		}
		want := keysAndVersions(items)
		got := keysAndVersions(store.List())
		if strings.Join(got, ",") == strings.Join(want, ",") {
			if len(want) == 0 {
				t.Fatalf("list of %s is empty; the test expects objects", kind)
			}
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s informer cache differs from a fresh list:\ncache: %v\nlist:  %v", kind, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keysAndVersions[T any](items []T) []string {
	var out []string
	for _, it := range items {
		m, err := meta.Accessor(it)
		if err != nil {
			panic(err)
		}
		out = append(out, m.GetNamespace()+"/"+m.GetName()+"@"+m.GetResourceVersion())
	}
	sort.Strings(out)
	return out
}

// freeAddr returns a loopback address with a port that is free now, so that a server can be
// restarted on the same port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func must[T any](obj T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("API call failed: %v", err))
	}
	return obj
}

func newService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}

func newEndpoints(name, ip string) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		}},
	}
}

func newPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "svclab/pod-agent:latest"}},
		},
	}
}
