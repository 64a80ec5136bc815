package kubelet

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// probeKind is readiness, liveness or startup.
type probeKind string

const (
	readiness probeKind = "Readiness"
	liveness  probeKind = "Liveness"
	startup   probeKind = "Startup"
)

// probeResults holds the latest verdict of every probe, keyed by container instance.
type probeResults struct {
	mu sync.Mutex
	m  map[string]map[probeKind]bool
}

func newProbeResults() *probeResults { return &probeResults{m: map[string]map[probeKind]bool{}} }

// set stores a verdict and reports whether it changed.
func (r *probeResults) set(id string, kind probeKind, ok bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[id] == nil {
		r.m[id] = map[probeKind]bool{}
	}
	old, had := r.m[id][kind]
	r.m[id][kind] = ok
	return !had || old != ok
}

func (r *probeResults) get(id string, kind probeKind) (ok, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok, known = r.m[id][kind]
	return ok, known
}

func (r *probeResults) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}

// killReason is "liveness" or "startup" when that probe has failed for the instance.
func (r *probeResults) killReason(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok, known := r.m[id][startup]; known && !ok {
		return "startup"
	}
	if ok, known := r.m[id][liveness]; known && !ok {
		return "liveness"
	}
	return ""
}

// containerStarted reports whether a running container counts as started: it has no startup
// probe or that probe has succeeded.
func (k *Kubelet) containerStarted(spec *corev1.Container, id string) bool {
	if spec == nil || spec.StartupProbe == nil {
		return true
	}
	ok, _ := k.probes.get(id, startup)
	return ok
}

// containerReady reports whether a running container is ready: started, and no readiness
// probe or that probe has succeeded.
func (k *Kubelet) containerReady(spec *corev1.Container, id string) bool {
	if !k.containerStarted(spec, id) {
		return false
	}
	if spec == nil || spec.ReadinessProbe == nil {
		return true
	}
	ok, _ := k.probes.get(id, readiness)
	return ok
}

// prober runs one probe of one container instance, like upstream's prober worker.
type prober struct {
	k       *Kubelet
	w       *podWorker
	kind    probeKind
	probe   *corev1.Probe
	pod     *corev1.Pod
	spec    *corev1.Container
	id      string
	netns   string
	podIP   string
	started time.Time

	last   bool
	run    int // consecutive results equal to last
	onHold bool
	cancel context.CancelFunc
	done   chan struct{}
}

// startProbers starts the probes of a container instance that has just started.
func (w *podWorker) startProbers(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *ctrState) {
	for _, p := range []struct {
		kind  probeKind
		probe *corev1.Probe
	}{{startup, spec.StartupProbe}, {readiness, spec.ReadinessProbe}, {liveness, spec.LivenessProbe}} {
		if p.probe == nil {
			continue
		}
		pr := w.newProber(pod, spec, c, p.kind, p.probe)
		pctx, cancel := context.WithCancel(ctx)
		pr.cancel = cancel
		c.probers = append(c.probers, pr)
		if !w.k.manualProbes {
			go pr.loop(pctx)
		}
	}
}

func (w *podWorker) newProber(pod *corev1.Pod, spec *corev1.Container, c *ctrState, kind probeKind, probe *corev1.Probe) *prober {
	ip := ""
	if w.st.ip.IsValid() {
		ip = w.st.ip.String()
	}
	pr := &prober{k: w.k, w: w, kind: kind, probe: withProbeDefaults(probe), pod: pod, spec: spec, id: c.id,
		netns: w.st.netns, podIP: ip, started: c.started, done: make(chan struct{})}
	// Readiness starts as failed, liveness as passed; startup is unknown until it passes.
	switch kind {
	case readiness:
		w.k.probes.set(c.id, readiness, false)
	case liveness:
		w.k.probes.set(c.id, liveness, true)
		pr.last = true
	}
	return pr
}

// stopProbers stops c's probes; their results are forgotten when the instance is.
func (w *podWorker) stopProbers(c *ctrState) {
	for _, p := range c.probers {
		if p.cancel != nil {
			p.cancel()
		}
	}
	c.probers = nil
}

// withProbeDefaults fills the API defaults a hand-made object may lack.
func withProbeDefaults(p *corev1.Probe) *corev1.Probe {
	p = p.DeepCopy()
	if p.TimeoutSeconds <= 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds <= 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = 3
	}
	return p
}

// loop probes every periodSeconds until the instance stops.
func (p *prober) loop(ctx context.Context) {
	defer close(p.done)
	t := p.k.clock.NewTicker(time.Duration(p.probe.PeriodSeconds) * time.Second)
	defer t.Stop()
	for {
		if !p.doProbe(ctx) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// doProbe runs the probe once and publishes a changed verdict; it returns false when this
// prober has nothing more to do (startup passed, or liveness failed and a restart is due).
func (p *prober) doProbe(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.onHold {
		return true
	}
	// Readiness and liveness wait for the startup probe.
	if p.kind != startup && p.spec.StartupProbe != nil {
		if ok, _ := p.k.probes.get(p.id, startup); !ok {
			return true
		}
	}
	if p.k.clock.Since(p.started) < time.Duration(p.probe.InitialDelaySeconds)*time.Second {
		return true
	}
	ok, output := p.k.runProbe(ctx, p.probe, p.pod, p.spec, p.id, p.netns, p.podIP)
	if ctx.Err() != nil {
		return false
	}
	if !ok {
		p.k.rec.Event(containerRef(p.pod, p.spec.Name, false), corev1.EventTypeWarning, "Unhealthy",
			fmt.Sprintf("%s probe failed: %s", p.kind, output))
	}
	if ok == p.last {
		p.run++
	} else {
		p.last, p.run = ok, 1
	}
	if !ok && p.run < int(p.probe.FailureThreshold) || ok && p.run < int(p.probe.SuccessThreshold) {
		return true
	}
	if p.k.probes.set(p.id, p.kind, ok) {
		p.w.poke()
	}
	switch {
	case p.kind == startup && ok:
		return false
	case !ok && (p.kind == liveness || p.kind == startup):
		// The pod worker restarts the container; a new prober comes with the new instance.
		p.onHold = true
	}
	return true
}
