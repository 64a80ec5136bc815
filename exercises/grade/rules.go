package grade

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/proxy/trace"
)

// checkTrace runs the packet tracer over the node's live rules and judges the walk.
func (g *Grader) checkTrace(ctx context.Context, e *exercises.Exercise, t *exercises.TraceCheck) CheckResult {
	if ok, why := g.nodeAccess(); !ok {
		return CheckResult{Status: Skip, Message: "trace " + why}
	}
	out, err := g.nodeRunner.RunInNode(ctx, t.Node, []string{"svclab", "trace", "--here", "--output", "json", "--from", t.From, "--to", t.To})
	if err != nil {
		return resultOf(err)
	}
	if out.ExitCode != 0 {
		return failed("trace in node %s: %s", t.Node, strings.TrimSpace(string(out.Stderr)))
	}
	var res trace.Result
	if err := json.Unmarshal(out.Stdout, &res); err != nil {
		return errored(fmt.Errorf("trace in node %s: bad output: %v", t.Node, err))
	}
	var ready []string
	if t.Expect.EndpointsOf != "" {
		ns, name := splitRef(e.Namespace, t.Expect.EndpointsOf)
		if ready, _, err = g.endpointIPs(ctx, ns, name); err != nil {
			return errored(err)
		}
	}
	return judgeTrace(t, &res, ready)
}

// judgeTrace compares a walk with the expectation; ready are the ready endpoint IPs of
// Expect.EndpointsOf.
func judgeTrace(t *exercises.TraceCheck, res *trace.Result, ready []string) CheckResult {
	var chosen []string
	for _, c := range res.Choices {
		chosen = append(chosen, c.Endpoint.Addr().String())
	}
	slices.Sort(chosen)
	chosen = slices.Compact(chosen)
	saw := fmt.Sprintf("%s in node %s (%s mode): %s", res.Packet, t.Node, res.Mode, res.Verdict)
	if len(chosen) > 0 {
		saw += fmt.Sprintf(" to %v", chosen)
	}
	if res.Masquerade {
		saw += ", masqueraded"
	}
	x := t.Expect
	switch {
	case x.Mode != "" && res.Mode != x.Mode:
		return failed("%s; want kube-proxy in %s mode", saw, x.Mode)
	case x.Verdict != "" && string(res.Verdict) != x.Verdict:
		return failed("%s; want %s", saw, x.Verdict)
	case !x.Choices.Match(len(res.Choices)):
		return failed("%s; want %s endpoint choices, saw %d", saw, x.Choices, len(res.Choices))
	case x.Masquerade != nil && res.Masquerade != *x.Masquerade:
		return failed("%s; want masquerade %v", saw, *x.Masquerade)
	}
	if x.EndpointsOf != "" && !slices.Equal(chosen, ready) {
		return failed("%s; want exactly the ready endpoints of %s %v", saw, x.EndpointsOf, ready)
	}
	if x.StepContains != "" && !slices.ContainsFunc(res.Steps, func(s trace.Step) bool {
		return strings.Contains(s.Rule, x.StepContains) || strings.Contains(s.Note, x.StepContains) || strings.Contains(s.Where, x.StepContains)
	}) {
		return failed("%s; no step mentions %q", saw, x.StepContains)
	}
	return passed("%s", saw)
}

// checkCommand runs a shell command on the host or in a node.
func (g *Grader) checkCommand(ctx context.Context, c *exercises.CommandCheck) CheckResult {
	var out Output
	var err error
	where := "host"
	if node, ok := strings.CutPrefix(string(c.On), "node/"); ok {
		if ok, why := g.nodeAccess(); !ok {
			return CheckResult{Status: Skip, Message: "command " + why}
		}
		where = "node " + node
		out, err = g.nodeRunner.RunInNode(ctx, node, []string{"bash", "-c", c.Run})
	} else {
		cmd := exec.CommandContext(ctx, "bash", "-c", c.Run)
		cmd.Env = commandEnv(g.opts.Self, g.opts.Lab, g.opts.Kubeconfig)
		out, err = runCmd(cmd)
	}
	if err != nil {
		return resultOf(err)
	}
	return judgeCommand(where, c, out)
}

func judgeCommand(where string, c *exercises.CommandCheck, out Output) CheckResult {
	want := 0
	if c.Expect.ExitCode != nil {
		want = *c.Expect.ExitCode
	}
	// Trailing newlines are not part of what a command says: '^4$' matches "4\n".
	text := strings.TrimRight(string(out.Stdout)+string(out.Stderr), "\n")
	saw := fmt.Sprintf("`%s` on %s exited %d", c.Run, where, out.ExitCode)
	if out.ExitCode != want {
		return failed("%s, want %d: %s", saw, want, clip(text))
	}
	if c.Expect.OutputContains != "" && !strings.Contains(text, c.Expect.OutputContains) {
		return failed("%s; the output does not contain %q: %s", saw, c.Expect.OutputContains, clip(text))
	}
	if c.Expect.OutputMatches != "" && !regexp.MustCompile(c.Expect.OutputMatches).MatchString(text) {
		return failed("%s; the output does not match %q: %s", saw, c.Expect.OutputMatches, clip(text))
	}
	return passed("%s: %s", saw, clip(text))
}
