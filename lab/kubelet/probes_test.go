package kubelet

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svclab/svclab/lab/runtime"
)

// probers returns the probers of the named container.
func probersOf(w *podWorker, name string, kind probeKind) *prober {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.st.all() {
		if c.name != name {
			continue
		}
		for _, p := range c.probers {
			if p.kind == kind {
				return p
			}
		}
	}
	return nil
}

func TestReadinessProbeFlipsReady(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	var gotUA, gotPath atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA.Store(r.UserAgent())
		gotPath.Store(r.URL.Path)
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	h := newHarness(t)
	h.dialer.SetTarget(srv.Listener.Addr().String())
	w := h.start(testPod("ready", func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
			PeriodSeconds: 1, FailureThreshold: 2, SuccessThreshold: 1}
	}))
	h.sync(w)
	ready := func() corev1.PodCondition { return condition(h.pod("ready"), corev1.PodReady) }
	if c := ready(); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [app]" {
		t.Fatalf("Ready before the first probe = %+v", c)
	}
	p := probersOf(w, "app", readiness)
	if p == nil {
		t.Fatal("no readiness prober")
	}
	p.doProbe(h.ctx)
	select {
	case <-w.notify:
	default:
		t.Error("a readiness change did not wake the pod worker")
	}
	h.sync(w)
	if c := ready(); c.Status != corev1.ConditionTrue {
		t.Fatalf("Ready after a passing probe = %+v", c)
	}
	if cs := containerStatus(h.pod("ready"), "app"); !cs.Ready {
		t.Error("container not ready")
	}
	dials := h.dialer.Dials()
	if len(dials) == 0 || dials[0].NetNS != "/run/netns/fake-ready-uid" || dials[0].Addr != "10.245.1.2:8080" {
		t.Errorf("dials = %+v", dials)
	}
	if ua, _ := gotUA.Load().(string); !strings.HasPrefix(ua, "kube-probe/") {
		t.Errorf("user agent = %q", ua)
	}
	if path, _ := gotPath.Load().(string); path != "/ready" {
		t.Errorf("path = %q", path)
	}

	// One failure is below the threshold; the second flips Ready.
	healthy.Store(false)
	p.doProbe(h.ctx)
	h.sync(w)
	if c := ready(); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready flipped after one failure with failureThreshold 2")
	}
	p.doProbe(h.ctx)
	h.sync(w)
	if c := ready(); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" {
		t.Errorf("Ready after two failures = %+v", c)
	}
	if c := condition(h.pod("ready"), corev1.ContainersReady); c.Status != corev1.ConditionFalse {
		t.Errorf("ContainersReady = %+v", c)
	}
	if !hasEvent(h.events(), "Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 503") {
		t.Error("no Unhealthy event")
	}
	// A readiness failure never restarts the container.
	if got := containerStatus(h.pod("ready"), "app").RestartCount; got != 0 {
		t.Errorf("restartCount = %d", got)
	}
	healthy.Store(true)
	p.doProbe(h.ctx)
	h.sync(w)
	if c := ready(); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready after recovery = %+v", c)
	}
}

func TestLivenessProbeRestarts(t *testing.T) {
	h := newHarness(t)
	var failing atomic.Bool
	h.rt.ExecFunc = func(id string, req runtime.ExecRequest) (int, error) {
		if failing.Load() {
			_, _ = req.Stdout.Write([]byte("cat: /tmp/healthy: No such file or directory\n"))
			return 1, nil
		}
		return 0, nil
	}
	w := h.start(testPod("live", func(p *corev1.Pod) {
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
			PeriodSeconds: 5, FailureThreshold: 2, InitialDelaySeconds: 5}
	}))
	h.sync(w)
	p := probersOf(w, "app", liveness)
	if p == nil {
		t.Fatal("no liveness prober")
	}
	p.doProbe(h.ctx)
	for _, c := range h.rt.Calls() {
		if c.Op == "Exec" {
			t.Fatal("probed before initialDelaySeconds")
		}
	}
	h.clock.Step(5 * time.Second)
	failing.Store(true)
	p.doProbe(h.ctx)
	h.sync(w)
	if got := containerStatus(h.pod("live"), "app").RestartCount; got != 0 {
		t.Fatalf("restarted after one failure (threshold 2)")
	}
	p.doProbe(h.ctx)
	h.sync(w)
	cs := containerStatus(h.pod("live"), "app")
	if cs.RestartCount != 1 || cs.State.Running == nil {
		t.Fatalf("after liveness failure: restarts %d state %+v", cs.RestartCount, cs.State)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 143 {
		t.Errorf("lastState = %+v", cs.LastTerminationState)
	}
	ev := h.events()
	for _, want := range []string{
		"Warning Unhealthy Liveness probe failed: cat: /tmp/healthy: No such file or directory\n",
		"Normal Killing Container app failed liveness probe, will be restarted",
	} {
		if !hasEvent(ev, want) {
			t.Errorf("missing event %q in %q", want, ev)
		}
	}
	var stop *struct{ grace time.Duration }
	for _, c := range h.rt.Calls() {
		if c.Op == "Stop" {
			stop = &struct{ grace time.Duration }{c.Grace}
		}
	}
	if stop == nil || stop.grace != 30*time.Second {
		t.Errorf("stop = %+v, want grace 30s", stop)
	}
	// The new instance has a fresh prober.
	if np := probersOf(w, "app", liveness); np == nil || np == p {
		t.Error("no fresh liveness prober for the new instance")
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	h := newHarness(t)
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(5432)}}, TimeoutSeconds: 1}
	pod := testPod("tcp")
	h.dialer.SetTarget(ln.Addr().String())
	if ok, out := h.k.runProbe(h.ctx, probe, pod, &pod.Spec.Containers[0], "id", "/ns", "10.245.1.9"); !ok {
		t.Errorf("tcp probe failed: %s", out)
	}
	h.dialer.SetTarget("")
	ok, out := h.k.runProbe(h.ctx, probe, pod, &pod.Spec.Containers[0], "id", "/ns", "10.245.1.9")
	if ok || out != "dial tcp 10.245.1.9:5432: connect: connection refused" {
		t.Errorf("refused probe = %v %q", ok, out)
	}
}
