package kubelet

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/kubelet/kubelettest"
)

// Test address plan: node 172.31.7.0/24 (this node .11), pod CIDR 10.245.1.0/24, cluster DNS
// 10.96.0.10. No test sends traffic anywhere but to its own loopback listener.
var (
	testNodeIP  = netip.MustParseAddr("172.31.7.11")
	testPodCIDR = netip.MustParsePrefix("10.245.1.0/24")
	testDNS     = netip.MustParseAddr("10.96.0.10")
	testStart   = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
)

const testImage = "svclab.local/agent:v1"

type harness struct {
	t      *testing.T
	ctx    context.Context
	k      *Kubelet
	client *fake.Clientset
	rt     *kubelettest.Runtime
	net    *kubelettest.Network
	dialer *kubelettest.Dialer
	clock  *testingclock.FakeClock
	rec    *record.FakeRecorder
	dir    string

	mu       sync.Mutex
	tokens   []*authenticationv1.TokenRequest
	deleteAt int64
	deletes  []metav1.DeleteOptions
}

// newHarness builds a kubelet over a fake clientset holding objs, with probes driven by hand.
func newHarness(t *testing.T, objs ...kruntime.Object) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, dir: t.TempDir(), clock: testingclock.NewFakeClock(testStart),
		rec: record.NewFakeRecorder(1000), dialer: &kubelettest.Dialer{}, net: kubelettest.NewNetwork(testPodCIDR)}
	h.rt = kubelettest.NewRuntime("containerd", h.clock.Now)
	h.rt.Images[testImage] = true
	h.rt.RuntimeVersion = "v1.6.20"
	objs = append(objs,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "default"}, Data: map[string]string{"ca.crt": "CA PEM"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
	)
	h.client = fake.NewClientset(objs...)
	h.client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		ca := a.(k8stesting.CreateAction)
		if ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		req := ca.GetObject().(*authenticationv1.TokenRequest)
		h.mu.Lock()
		h.tokens = append(h.tokens, req.DeepCopy())
		n := len(h.tokens)
		h.mu.Unlock()
		out := req.DeepCopy()
		out.Status.Token = "token-" + string(rune('0'+n))
		out.Status.ExpirationTimestamp = metav1.NewTime(h.clock.Now().Add(time.Hour))
		return true, out, nil
	})
	h.client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		h.mu.Lock()
		h.deleteAt = kubelettest.Next()
		h.deletes = append(h.deletes, a.(k8stesting.DeleteActionImpl).DeleteOptions)
		h.mu.Unlock()
		return false, nil, nil
	})
	resolv := filepath.Join(h.dir, "host-resolv.conf")
	writeFile(t, resolv, "# host\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n")
	hosts := filepath.Join(h.dir, "host-hosts")
	writeFile(t, hosts, "127.0.0.1\tlocalhost\n")
	k, err := New(h.client, Config{
		NodeName: "node-1", NodeIP: testNodeIP, PodCIDR: testPodCIDR, NodeNetNSPath: "/run/netns/svclab-t-node-1",
		StateDir: filepath.Join(h.dir, "state"), Runtime: h.rt, Network: h.net, Dialer: h.dialer,
		ClusterDNS: testDNS, ClusterDomain: "cluster.local", Clock: h.clock, Recorder: h.rec,
		HostResolvConf: resolv, HostsFile: hosts,
	})
	if err != nil {
		t.Fatal(err)
	}
	k.manualProbes = true
	factory := informers.NewSharedInformerFactory(h.client, 0)
	svc := factory.Core().V1().Services()
	k.serviceLister = svc.Lister()
	svc.Informer()
	factory.Start(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), svc.Informer().HasSynced)
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	h.k = k
	return h
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testPod is a pod bound to node-1 as the API server would store it.
func testPod(name string, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), ResourceVersion: "1"},
		Spec: corev1.PodSpec{
			NodeName:                      "node-1",
			Containers:                    []corev1.Container{{Name: "app", Image: testImage, ImagePullPolicy: corev1.PullIfNotPresent}},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			DNSPolicy:                     corev1.DNSClusterFirst,
			ServiceAccountName:            "default",
			EnableServiceLinks:            ptr.To(true),
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(testStart)}}},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

// start stores pod in the API and returns its (unstarted) worker.
func (h *harness) start(pod *corev1.Pod) *podWorker {
	h.t.Helper()
	created, err := h.client.CoreV1().Pods(pod.Namespace).Create(h.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	w := newPodWorker(h.k, created)
	h.k.mu.Lock()
	h.k.workers[created.UID] = w
	h.k.mu.Unlock()
	return w
}

// sync runs one worker pass, like a tick of the worker loop.
func (h *harness) sync(w *podWorker) bool {
	h.t.Helper()
	return w.sync(h.ctx)
}

// step advances the fake clock and syncs.
func (h *harness) step(w *podWorker, d time.Duration) {
	h.t.Helper()
	h.clock.Step(d)
	h.sync(w)
}

// pod reads a pod back from the API.
func (h *harness) pod(name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// events drains the recorder.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func hasEvent(events []string, want string) bool {
	for _, e := range events {
		if e == want {
			return true
		}
	}
	return false
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func containerStatus(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, c := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if c.Name == name {
			return c
		}
	}
	return corev1.ContainerStatus{}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func toObjects(in []any) []kruntime.Object {
	out := make([]kruntime.Object, len(in))
	for i, o := range in {
		out[i] = o.(kruntime.Object)
	}
	return out
}

func writeTemp(t *testing.T, data string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	writeFile(t, path, data)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
