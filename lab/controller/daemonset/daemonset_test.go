package daemonset

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/controller/controllerutil"
	"github.com/svclab/svclab/lab/controller/controllerutil/controllertest"
)

const ns = "kube-system"

type harness struct {
	t        *testing.T
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	c        *Controller
	recorder *record.FakeRecorder
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := controllertest.NewClient(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := record.NewFakeRecorder(1000)
	c.recorder = rec
	c.podControl.Recorder = rec
	return &harness{t: t, client: client, factory: factory, c: c, recorder: rec}
}

// sync refreshes the caches and runs one sync. Informer events are not delivered in these
// tests, so expectations are cleared first, as observing the last sync's writes would.
func (h *harness) sync() {
	h.t.Helper()
	controllertest.Refresh(h.t, h.client, h.factory)
	h.c.expectations.DeleteExpectations(ns + "/proxy")
	if err := h.c.syncDaemonSet(context.Background(), ns+"/proxy"); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
}

func (h *harness) ds() *appsv1.DaemonSet {
	h.t.Helper()
	ds, err := h.client.AppsV1().DaemonSets(ns).Get(context.Background(), "proxy", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

func (h *harness) update(mutate func(*appsv1.DaemonSet)) {
	h.t.Helper()
	ds := h.ds()
	mutate(ds)
	ds.Generation++
	if _, err := h.client.AppsV1().DaemonSets(ns).Update(context.Background(), ds, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// podsByNode maps each pod's target node to the pod's controller-revision-hash.
func (h *harness) podsByNode() map[string][]string {
	out := map[string][]string{}
	for _, p := range controllertest.ListPods(h.t, h.client, ns) {
		node, err := targetNodeName(&p)
		if err != nil {
			h.t.Fatalf("pod %s has no target node", p.Name)
		}
		out[node] = append(out[node], p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey])
	}
	return out
}

func (h *harness) nodesWithPods() []string {
	var out []string
	for n := range h.podsByNode() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// runPods plays scheduler and kubelet: binds every pod to its pinned node and makes it ready.
func (h *harness) runPods() {
	h.t.Helper()
	for _, p := range controllertest.ListPods(h.t, h.client, ns) {
		if controllerutil.IsPodReady(&p) {
			continue
		}
		node, _ := targetNodeName(&p)
		p.Spec.NodeName = node
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
		if _, err := h.client.CoreV1().Pods(ns).Update(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func node(name string, mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	if mutate != nil {
		mutate(n)
	}
	return n
}

func taint(key string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}

func newDS() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "proxy", Namespace: ns, UID: "ds-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "proxy"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"k8s-app": "proxy"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "proxy", Image: "svclab:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))},
			},
			RevisionHistoryLimit: ptr.To[int32](10),
		},
	}
}

func testNodes() []runtime.Object {
	return []runtime.Object{
		node("plain", nil),
		node("dedicated", taint("dedicated", corev1.TaintEffectNoSchedule)),
		node("ssd", func(n *corev1.Node) { n.Labels["disk"] = "ssd" }),
		node("cordoned", func(n *corev1.Node) {
			n.Spec.Unschedulable = true
			taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)(n)
		}),
		node("notready", taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)),
		node("nonet", taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)),
	}
}

func TestPodPerEligibleNode(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*appsv1.DaemonSet)
		want   []string
	}{
		{
			name: "default tolerations cover unschedulable and not-ready, not custom taints",
			want: []string{"cordoned", "notready", "plain", "ssd"},
		},
		{
			name: "hostNetwork pods also tolerate network-unavailable",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.HostNetwork = true
			},
			want: []string{"cordoned", "nonet", "notready", "plain", "ssd"},
		},
		{
			name: "tolerating everything runs everywhere",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
			},
			want: []string{"cordoned", "dedicated", "nonet", "notready", "plain", "ssd"},
		},
		{
			name:   "node selector",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} },
			want:   []string{"ssd"},
		},
		{
			name: "required node affinity",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"plain", "dedicated"}}},
					}}},
				}}
			},
			want: []string{"plain"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := newDS()
			if tt.mutate != nil {
				tt.mutate(ds)
			}
			h := newHarness(t, append(testNodes(), ds)...)
			h.sync()
			if got := h.nodesWithPods(); !slices.Equal(got, tt.want) {
				t.Errorf("pods on %v, want %v", got, tt.want)
			}
			h.runPods()
			h.sync()
			st := h.ds().Status
			n := int32(len(tt.want))
			if st.DesiredNumberScheduled != n || st.CurrentNumberScheduled != n || st.NumberReady != n ||
				st.NumberAvailable != n || st.UpdatedNumberScheduled != n || st.NumberUnavailable != 0 ||
				st.NumberMisscheduled != 0 || st.ObservedGeneration != 1 {
				t.Errorf("status = %+v", st)
			}
		})
	}
}

func TestDaemonPodShape(t *testing.T) {
	ds := newDS()
	ds.Annotations = map[string]string{TemplateGenerationAnnotation: "1"}
	h := newHarness(t, node("plain", nil), ds)
	h.sync()
	pods := controllertest.ListPods(t, h.client, ns)
	if len(pods) != 1 {
		t.Fatalf("got %d pods", len(pods))
	}
	p := pods[0]
	hash := controllerutil.ComputeHash(&ds.Spec.Template, nil)
	if p.GenerateName != "proxy-" || p.Spec.NodeName != "" {
		t.Errorf("generateName=%q nodeName=%q", p.GenerateName, p.Spec.NodeName)
	}
	if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash || p.Labels[TemplateGenerationKey] != "1" {
		t.Errorf("labels = %v, want hash %s and generation 1", p.Labels, hash)
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	want := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"plain"}}
	if len(terms) != 1 || len(terms[0].MatchFields) != 1 || terms[0].MatchFields[0].Key != want.Key ||
		terms[0].MatchFields[0].Values[0] != "plain" || len(terms[0].MatchExpressions) != 0 {
		t.Errorf("node affinity terms = %+v", terms)
	}
	var keys []string
	for _, tol := range p.Spec.Tolerations {
		keys = append(keys, tol.Key+":"+string(tol.Effect))
	}
	wantTol := []string{
		"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
		"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
		"node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule",
	}
	if !slices.Equal(keys, wantTol) {
		t.Errorf("tolerations = %v, want %v", keys, wantTol)
	}
	ref := metav1.GetControllerOf(&p)
	if ref == nil || ref.Kind != "DaemonSet" || ref.Name != "proxy" || !*ref.BlockOwnerDeletion {
		t.Errorf("controller ref = %+v", ref)
	}
	crs, err := h.client.AppsV1().ControllerRevisions(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(crs.Items) != 1 || crs.Items[0].Name != "proxy-"+hash || crs.Items[0].Revision != 1 ||
		crs.Items[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash {
		t.Fatalf("controller revisions = %+v", crs.Items)
	}
	if !strings.HasPrefix(string(crs.Items[0].Data.Raw), `{"spec":{"template":{"$patch":"replace"`) {
		t.Errorf("revision data = %s", crs.Items[0].Data.Raw)
	}
	if ev := <-h.recorder.Events; ev != "Normal SuccessfulCreate Created pod: "+p.Name {
		t.Errorf("event = %q", ev)
	}
}

func TestNodesComingAndGoing(t *testing.T) {
	h := newHarness(t, node("a", nil), node("b", nil), newDS())
	h.sync()
	h.runPods()
	ctx := context.Background()
	if _, err := h.client.CoreV1().Nodes().Create(ctx, node("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if got := h.nodesWithPods(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after adding node c: pods on %v", got)
	}
	// Node c disappears before its pod was scheduled: the pinned pod can never run, delete it.
	if err := h.client.CoreV1().Nodes().Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if got := h.nodesWithPods(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after removing node c: pods on %v", got)
	}
	// A NoExecute taint evicts the daemon pod; a NoSchedule taint only marks it misscheduled.
	n, _ := h.client.CoreV1().Nodes().Get(ctx, "a", metav1.GetOptions{})
	taint("maintenance", corev1.TaintEffectNoExecute)(n)
	if _, err := h.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n, _ = h.client.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
	taint("dedicated", corev1.TaintEffectNoSchedule)(n)
	if _, err := h.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if got := h.nodesWithPods(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after tainting: pods on %v", got)
	}
	h.sync()
	if st := h.ds().Status; st.DesiredNumberScheduled != 0 || st.NumberMisscheduled != 1 {
		t.Errorf("status = %+v, want desired 0 misscheduled 1", st)
	}
}

func TestRollingRestart(t *testing.T) {
	tests := []struct {
		name               string
		surge, unavailable intstr.IntOrString
		maxPods            int
		minReady           int
	}{
		{name: "maxUnavailable 1", surge: intstr.FromInt32(0), unavailable: intstr.FromInt32(1), maxPods: 4, minReady: 3},
		{name: "maxUnavailable 50% rounds up", surge: intstr.FromInt32(0), unavailable: intstr.FromString("50%"), maxPods: 4, minReady: 2},
		{name: "maxSurge 1", surge: intstr.FromInt32(1), unavailable: intstr.FromInt32(0), maxPods: 5, minReady: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := newDS()
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: &tt.surge, MaxUnavailable: &tt.unavailable}
			h := newHarness(t, node("a", nil), node("b", nil), node("c", nil), node("d", nil), ds)
			h.sync()
			h.runPods()
			oldHash := controllerutil.ComputeHash(&ds.Spec.Template, nil)

			// kubectl rollout restart daemonset/proxy
			h.update(func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}
			})
			newHash := controllerutil.ComputeHash(&h.ds().Spec.Template, nil)
			if newHash == oldHash {
				t.Fatal("template change did not change the hash")
			}
			done := false
			for step := 0; step < 20 && !done; step++ {
				h.sync()
				pods := controllertest.ListPods(t, h.client, ns)
				ready := 0
				for _, p := range pods {
					if controllerutil.IsPodReady(&p) {
						ready++
					}
				}
				if len(pods) > tt.maxPods || ready < tt.minReady {
					t.Fatalf("step %d: %d pods, %d ready; bounds %d pods, %d ready", step, len(pods), ready, tt.maxPods, tt.minReady)
				}
				h.runPods()
				byNode := h.podsByNode()
				done = len(byNode) == 4
				for _, hashes := range byNode {
					if !slices.Equal(hashes, []string{newHash}) {
						done = false
					}
				}
			}
			if !done {
				t.Fatalf("restart did not finish: %v", h.podsByNode())
			}
			h.sync()
			st := h.ds().Status
			if st.UpdatedNumberScheduled != 4 || st.NumberAvailable != 4 || st.ObservedGeneration != 2 {
				t.Errorf("status = %+v", st)
			}
			crs, _ := h.client.AppsV1().ControllerRevisions(ns).List(context.Background(), metav1.ListOptions{})
			revs := map[string]int64{}
			for _, cr := range crs.Items {
				revs[cr.Name] = cr.Revision
			}
			if len(revs) != 2 || revs["proxy-"+oldHash] != 1 || revs["proxy-"+newHash] != 2 {
				t.Errorf("controller revisions = %v", revs)
			}
		})
	}
}

func TestOnDelete(t *testing.T) {
	ds := newDS()
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	h := newHarness(t, node("a", nil), node("b", nil), ds)
	h.sync()
	h.runPods()
	h.update(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "svclab:2" })
	h.sync()
	newHash := controllerutil.ComputeHash(&h.ds().Spec.Template, nil)
	for node, hashes := range h.podsByNode() {
		if slices.Contains(hashes, newHash) {
			t.Errorf("OnDelete replaced the pod on %s without a delete", node)
		}
	}
	for _, p := range controllertest.ListPods(t, h.client, ns) {
		if n, _ := targetNodeName(&p); n == "a" {
			if err := h.client.CoreV1().Pods(ns).Delete(context.Background(), p.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.sync()
	got := h.podsByNode()
	if !slices.Equal(got["a"], []string{newHash}) || slices.Contains(got["b"], newHash) {
		t.Errorf("pods by node = %v, want only a updated to %s", got, newHash)
	}
	h.sync()
	if st := h.ds().Status; st.UpdatedNumberScheduled != 1 || st.DesiredNumberScheduled != 2 {
		t.Errorf("status = %+v", st)
	}
}
