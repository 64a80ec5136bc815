package grade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/lab/network"
)

// Options configure a Grader.
type Options struct {
	// Kubeconfig is the cluster to grade.
	Kubeconfig string
	// Lab names the local svclab lab the kubeconfig belongs to; checks that need a node's
	// network namespace run only then (otherwise they are skipped, saying why).
	Lab string
	// Wait retries every failing check until it passes or this much time has passed
	// (on top of a check's own `within`).
	Wait time.Duration
	// Once runs every check a single time, ignoring `within` and Wait (to show that checks
	// fail on a fresh lab without waiting for them to converge).
	Once bool
	// MaxWithin caps each check's `within` (0: no cap). The web UI's Check button uses a
	// short cap, so a learner sees a miss in seconds rather than after every check's wait.
	MaxWithin time.Duration
	// Self is the svclab binary re-run inside nodes (default: this executable).
	Self string
}

// Grader runs checks against one cluster.
type Grader struct {
	opts   Options
	config *rest.Config
	client kubernetes.Interface
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	disc   discovery.DiscoveryInterface
	// nodeRunner runs a command in a node's namespace; podRunner in a pod (tests fake them).
	nodeRunner NodeRunner
	podRunner  PodRunner
}

// New connects to the cluster of opts.Kubeconfig.
func New(opts Options) (*Grader, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", opts.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Self == "" {
		if opts.Self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	g := &Grader{opts: opts, config: cfg, client: cs, dyn: dyn, disc: cs.Discovery()}
	g.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	g.nodeRunner = &netnsRunner{self: opts.Self, lab: opts.Lab, kubeconfig: opts.Kubeconfig}
	g.podRunner = &execRunner{config: cfg, client: cs}
	return g, nil
}

// Ping checks that the API server answers (a connection error is exit code 2, not a
// failed check).
func (g *Grader) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := g.client.Discovery().RESTClient().Get().AbsPath("/version").DoRaw(ctx); err != nil {
		return fmt.Errorf("cannot reach the API server at %s: %w (is the lab running? `svclab status`)", g.config.Host, err)
	}
	return nil
}

// nodeAccess says whether node-namespace checks can run, and why not.
func (g *Grader) nodeAccess() (bool, string) {
	if g.opts.Lab == "" {
		return false, "needs a node's network namespace: grade a local svclab lab (--name) as root"
	}
	if os.Geteuid() != 0 {
		return false, "needs root to enter a node's network namespace: run svclab grade with sudo"
	}
	return true, ""
}

func nodeNetNSExists(ns string) bool {
	_, err := os.Stat(filepath.Join(network.NetNSDir, ns))
	return err == nil
}

// Grade runs the given exercises (every step that is not transient).
func (g *Grader) Grade(ctx context.Context, exs []*exercises.Exercise) *Report {
	r := &Report{Started: time.Now(), Cluster: g.config.Host}
	for _, e := range exs {
		r.Exercises = append(r.Exercises, g.Exercise(ctx, e))
	}
	r.Duration = time.Since(r.Started)
	return r
}

// Exercise grades all of an exercise's steps; transient steps are reported as skipped.
func (g *Grader) Exercise(ctx context.Context, e *exercises.Exercise) ExerciseResult {
	start := time.Now()
	res := ExerciseResult{ID: e.ID, Title: e.Title}
	var sts []Status
	for i := range e.Steps {
		s := &e.Steps[i]
		var sr StepResult
		if s.Transient {
			sr = StepResult{ID: s.ID, Title: s.Title, Status: Skip}
			for _, c := range s.Checks {
				sr.Checks = append(sr.Checks, CheckResult{Name: c.Name, Kind: c.Kind(), Status: Skip,
					Message: "transient step: a later step changes what it checks; use --step " + s.ID + " while at it", File: c.File, Line: c.Line})
			}
		} else {
			sr = g.Step(ctx, e, s)
		}
		res.Steps = append(res.Steps, sr)
		if len(s.Checks) > 0 {
			sts = append(sts, sr.Status)
		}
	}
	res.Status = combine(sts)
	res.Duration = time.Since(start)
	return res
}

// Step runs one step's checks side by side (they look at the same lab, and a check that
// waits for the lab to converge must not hold the others up); results keep their order.
func (g *Grader) Step(ctx context.Context, e *exercises.Exercise, s *exercises.Step) StepResult {
	sr := StepResult{ID: s.ID, Title: s.Title, Checks: make([]CheckResult, len(s.Checks))}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range s.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			sr.Checks[i] = g.Check(ctx, e, &s.Checks[i])
		}()
	}
	wg.Wait()
	var sts []Status
	for _, cr := range sr.Checks {
		sts = append(sts, cr.Status)
	}
	sr.Status = combine(sts)
	return sr
}

// Check runs one check, retrying while it fails for up to its `within` plus Options.Wait.
func (g *Grader) Check(ctx context.Context, e *exercises.Exercise, c *exercises.Check) CheckResult {
	start := time.Now()
	within := c.Within.Duration
	if g.opts.MaxWithin > 0 {
		within = min(within, g.opts.MaxWithin)
	}
	deadline := start.Add(within + g.opts.Wait)
	if g.opts.Once {
		deadline = start
	}
	var cr CheckResult
	for {
		cr = g.checkOnce(ctx, e, c)
		if cr.Status == Pass || cr.Status == Skip || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	cr.Name, cr.Kind, cr.File, cr.Line = c.Name, c.Kind(), c.File, c.Line
	cr.Duration = time.Since(start)
	if cr.Status != Pass {
		cr.Hint = c.Hint
	}
	return cr
}

func (g *Grader) checkOnce(ctx context.Context, e *exercises.Exercise, orig *exercises.Check) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t := &tmpl{g: g, ctx: ctx, ns: e.Namespace}
	switch {
	case orig.Object != nil:
		c, err := t.render(orig, nil)
		if err != nil {
			return failed("%v", err)
		}
		return g.checkObject(ctx, e, c.Object)
	case orig.Endpoints != nil:
		c, err := t.render(orig, nil)
		if err != nil {
			return failed("%v", err)
		}
		return g.checkEndpoints(ctx, e, c.Endpoints)
	case orig.DNS != nil:
		c, err := t.render(orig, nil)
		if err != nil {
			return failed("%v", err)
		}
		return g.checkDNS(ctx, e, c.DNS)
	case orig.Trace != nil:
		c, err := t.render(orig, nil)
		if err != nil {
			return failed("%v", err)
		}
		return g.checkTrace(ctx, e, c.Trace)
	case orig.Command != nil:
		c, err := t.render(orig, nil)
		if err != nil {
			return failed("%v", err)
		}
		return g.checkCommand(ctx, c.Command)
	case orig.HTTP != nil || orig.TCP != nil || orig.UDP != nil:
		return g.checkTraffic(ctx, e, t, orig)
	}
	return CheckResult{Status: Error, Message: "check has no kind"}
}

func errored(err error) CheckResult { return CheckResult{Status: Error, Message: err.Error()} }

func failed(format string, args ...any) CheckResult {
	return CheckResult{Status: Fail, Message: fmt.Sprintf(format, args...)}
}

func passed(format string, args ...any) CheckResult {
	return CheckResult{Status: Pass, Message: fmt.Sprintf(format, args...)}
}
