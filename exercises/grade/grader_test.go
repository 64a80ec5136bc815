package grade

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/probe"
)

// recorder fakes the node and pod runners: it records each command and answers with the
// probe result it was given.
type recorder struct {
	calls  []string
	answer probe.Result
}

func (r *recorder) RunInNode(_ context.Context, node string, argv []string) (Output, error) {
	r.calls = append(r.calls, "node "+node+": "+strings.Join(argv[:2], " "))
	js, _ := json.Marshal(r.answer)
	return Output{Stdout: js}, nil
}

func (r *recorder) ExecInPod(_ context.Context, ns, pod string, argv []string) (Output, error) {
	r.calls = append(r.calls, "pod "+ns+"/"+pod+": "+strings.Join(argv[:2], " "))
	js, _ := json.Marshal(r.answer)
	return Output{Stdout: js}, nil
}

func ready(b bool) *bool { return &b }

func fixture() []runtime.Object {
	return []runtime.Object{
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lab-worker"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.31.0.3"}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lab-control-plane"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.31.0.2"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ex"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.50",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30950}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "ex", Labels: map[string]string{"app": "client"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.9", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ex", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ready(true)}},
				{Addresses: []string{"10.244.2.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ready(false)}}}},
	}
}

func newTestGrader(t *testing.T, lab string) (*Grader, *recorder) {
	objs := fixture()
	cs := fake.NewSimpleClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{
			{Name: "services", SingularName: "service", Kind: "Service", Namespaced: true, ShortNames: []string{"svc"}, Verbs: []string{"get", "list"}},
			{Name: "nodes", SingularName: "node", Kind: "Node", Namespaced: false, ShortNames: []string{"no"}, Verbs: []string{"get", "list"}},
			{Name: "pods", SingularName: "pod", Kind: "Pod", Namespaced: true, ShortNames: []string{"po"}, Verbs: []string{"get", "list"}},
		},
	}}
	rec := &recorder{}
	g := &Grader{opts: Options{Lab: lab, Self: "/bin/true"}, config: &rest.Config{Host: "https://test"}, client: cs,
		dyn: dynamicfake.NewSimpleDynamicClient(scheme.Scheme, objs...), disc: cs.Discovery(), nodeRunner: rec, podRunner: rec}
	g.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	return g, rec
}

func load(t *testing.T, checks string) *exercises.Exercise {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"ex1/exercise.yaml": "title: T\nsummary: S\nnamespace: ex\nsteps:\n- {id: one, title: One, file: one.md}\n- {id: two, title: Two, file: one.md, transient: true}\n",
		"ex1/one.md":        "text\n",
		"ex1/checks.yaml":   checks,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := exercises.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c.Get("ex1")
}

func TestGradeObjectsEndpointsAndTemplates(t *testing.T) {
	g, _ := newTestGrader(t, "")
	e := load(t, `one:
- name: svc type
  object: {resource: svc, name: web, expect: ['spec.type == NodePort', 'spec.ports[0].nodePort == {{ nodePort "web" }}']}
- name: wrong type
  hint: use NodePort
  object: {resource: Service, name: web, expect: ['spec.type == LoadBalancer']}
- name: missing
  object: {resource: services, name: nope}
- name: gone
  object: {resource: services, name: nope, absent: true}
- name: nodes
  object: {resource: nodes, namespace: "", selector: "", name: '{{ node 1 }}', expect: ['status.addresses[0].address == {{ nodeIP "lab-worker" }}']}
- name: endpoints
  endpoints: {service: web, ready: 1, notReady: 1}
- name: too few endpoints
  endpoints: {service: web, ready: ">= 2"}
`)
	got := g.Step(context.Background(), e, &e.Steps[0])
	want := []struct {
		st  Status
		msg string
	}{
		{Pass, "spec.type == NodePort"},
		{Fail, "spec.type is NodePort, want == LoadBalancer"},
		{Fail, "services ex/nope not found"},
		{Pass, "does not exist"},
		{Pass, "lab-worker"},
		{Pass, "1 ready endpoints [10.244.1.2] and 1 not ready [10.244.2.2]"},
		{Fail, "want ready >= 2"},
	}
	for i, w := range want {
		c := got.Checks[i]
		if c.Status != w.st || !strings.Contains(c.Message, w.msg) {
			t.Errorf("check %d %q: %s %q, want %s containing %q", i, c.Name, c.Status, c.Message, w.st, w.msg)
		}
	}
	if got.Checks[1].Hint != "use NodePort" || got.Checks[0].Hint != "" {
		t.Errorf("hints: %q %q", got.Checks[1].Hint, got.Checks[0].Hint)
	}
	if got.Status != Fail {
		t.Errorf("step status %s", got.Status)
	}
}

func TestGradeProbesWhereTheyRun(t *testing.T) {
	g, rec := newTestGrader(t, "")
	rec.answer = probe.Result{Answers: answers("pod=web-a", "pod=web-b")}
	e := load(t, `one:
- name: from a pod
  http: {from: pod/app=client, url: 'http://{{ clusterIP "web" }}/', requests: 2, expect: {distinctPods: 2}}
- name: from a node
  tcp: {from: 'node/{{ node 0 }}', address: '{{ clusterIP "web" }}:80'}
- name: trace
  trace: {node: '{{ node 0 }}', from: '{{ podIP "client" }}', to: '{{ clusterIP "web" }}:80'}
- name: missing pod
  http: {from: pod/nope, url: 'http://x/'}
`)
	got := g.Step(context.Background(), e, &e.Steps[0])
	if c := got.Checks[0]; c.Status != Pass || !strings.Contains(c.Message, "from pod ex/client") {
		t.Errorf("pod probe: %s %s", c.Status, c.Message)
	}
	for i := 1; i <= 2; i++ {
		if c := got.Checks[i]; c.Status != Skip || !strings.Contains(c.Message, "needs a node's network namespace") {
			t.Errorf("check %d without a lab: %s %s", i, c.Status, c.Message)
		}
	}
	if c := got.Checks[3]; c.Status != Fail || !strings.Contains(c.Message, "pod ex/nope") {
		t.Errorf("missing pod: %s %s", c.Status, c.Message)
	}
	if len(rec.calls) != 1 || rec.calls[0] != "pod ex/client: /svclab probe" {
		t.Errorf("calls %v", rec.calls)
	}
}

func TestGradeEachNode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("node probes need root (the grader refuses otherwise)")
	}
	g, rec := newTestGrader(t, "lab")
	rec.answer = probe.Result{Answers: answers("pod=web-a")}
	e := load(t, `one:
- name: every node
  tcp: {from: 'node/{{ .Node.Name }}', each: node, address: '{{ .Node.IP }}:{{ nodePort "web" }}'}
`)
	got := g.Step(context.Background(), e, &e.Steps[0])
	if c := got.Checks[0]; c.Status != Pass || !strings.Contains(c.Message, "lab-control-plane, lab-worker") {
		t.Errorf("%s %s", c.Status, c.Message)
	}
	if strings.Join(rec.calls, ";") != "node lab-control-plane: svclab probe;node lab-worker: svclab probe" {
		t.Errorf("calls %v", rec.calls)
	}
}

func TestGradeExerciseSkipsTransientSteps(t *testing.T) {
	g, _ := newTestGrader(t, "")
	e := load(t, "one:\n- name: a\n  endpoints: {service: web, ready: 1}\ntwo:\n- name: b\n  endpoints: {service: web, ready: 5}\n")
	r := g.Grade(context.Background(), []*exercises.Exercise{e})
	if !r.Passed() || r.Exercises[0].Steps[1].Status != Skip || !strings.Contains(r.Exercises[0].Steps[1].Checks[0].Message, "--step two") {
		t.Fatalf("%+v", r.Exercises[0])
	}
	// Checking the transient step alone runs it.
	if s := g.Step(context.Background(), e, &e.Steps[1]); s.Status != Fail {
		t.Fatalf("%+v", s)
	}
}

func TestGradeWaitRetries(t *testing.T) {
	g, _ := newTestGrader(t, "")
	g.opts.Wait = 1500 * time.Millisecond
	e := load(t, "one:\n- name: a\n  endpoints: {service: web, ready: 2}\n")
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = g.client.DiscoveryV1().EndpointSlices("ex").Create(context.Background(), &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: "web-2", Namespace: "ex", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.244.3.2"}}}}, metav1.CreateOptions{})
	}()
	if c := g.Check(context.Background(), e, &e.Steps[0].Checks[0]); c.Status != Pass {
		t.Fatalf("%s %s", c.Status, c.Message)
	}
}

func TestReports(t *testing.T) {
	g, _ := newTestGrader(t, "")
	e := load(t, `one:
- name: ok
  endpoints: {service: web, ready: 1}
- name: "bad <&> one"
  hint: try harder
  endpoints: {service: web, ready: 3}
two:
- name: later
  endpoints: {service: web, ready: 1}
`)
	r := g.Grade(context.Background(), []*exercises.Exercise{e})
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL ex1 — T", "PASS ok", "FAIL bad <&> one", "hint: try harder", "skipped: transient step", "1 passed, 1 failed, 0 errors, 1 skipped"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Exercises[0].Steps[0].Checks[1].Status != Fail {
		t.Fatalf("json: %v %s", err, js.String())
	}
	var x bytes.Buffer
	if err := WriteJUnit(&x, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<testsuites name="svclab grade" tests="3" failures="1" errors="0"`, `<testsuite name="ex1" tests="3" failures="1" errors="0" skipped="1"`,
		`<failure message=`, "hint: try harder", `<skipped message="transient step`, `classname="exercises.ex1.one"`, "bad &lt;&amp;&gt; one"} {
		if !strings.Contains(x.String(), want) {
			t.Errorf("junit lacks %q:\n%s", want, x.String())
		}
	}
	validateJUnit(t, x.Bytes())
}

// validateJUnit checks the report against the JUnit schema CI systems read (testdata/junit.xsd).
func validateJUnit(t *testing.T, xml []byte) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (apt-get install libxml2-utils; make test installs it)")
	}
	f := filepath.Join(t.TempDir(), "report.xml")
	if err := os.WriteFile(f, xml, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/junit.xsd", f).CombinedOutput()
	if err != nil {
		t.Fatalf("the JUnit report does not validate: %v\n%s\n%s", err, out, xml)
	}
}
