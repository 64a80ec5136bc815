package grade

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/probe"
)

// checkTraffic runs an http, tcp or udp check, once or once per node.
func (g *Grader) checkTraffic(ctx context.Context, e *exercises.Exercise, t *tmpl, orig *exercises.Check) CheckResult {
	each := eachOf(orig)
	if each != "node" {
		c, err := t.render(orig, nil)
		if err != nil {
			return failed("%v", err)
		}
		return g.trafficOnce(ctx, e, c)
	}
	nodes, err := g.nodes(ctx)
	if err != nil {
		return errored(err)
	}
	var msgs []string
	for i := range nodes {
		info := &NodeInfo{Name: nodes[i].Name, IP: internalIP(&nodes[i])}
		c, err := t.render(orig, info)
		if err != nil {
			return failed("node %s: %v", info.Name, err)
		}
		r := g.trafficOnce(ctx, e, c)
		if r.Status != Pass {
			r.Message = "node " + info.Name + ": " + r.Message
			return r
		}
		msgs = append(msgs, info.Name)
	}
	return passed("every node answered as expected (%s)", strings.Join(msgs, ", "))
}

func eachOf(c *exercises.Check) exercises.Each {
	switch {
	case c.HTTP != nil:
		return c.HTTP.Each
	case c.TCP != nil:
		return c.TCP.Each
	case c.UDP != nil:
		return c.UDP.Each
	}
	return ""
}

func (g *Grader) trafficOnce(ctx context.Context, e *exercises.Exercise, c *exercises.Check) CheckResult {
	switch {
	case c.HTTP != nil:
		h := c.HTTP
		spec := probe.Spec{Kind: "http", URL: h.URL, Method: h.Method, Host: h.Host, Headers: h.Headers,
			ServerName: h.ServerName, Requests: h.Requests, Timeout: h.Timeout.Duration}
		res, where, err := g.runProbe(ctx, e.Namespace, string(h.From), spec)
		if err != nil {
			return resultOf(err)
		}
		return judgeHTTP(fmt.Sprintf("%s %s from %s", cmp.Or(h.Method, "GET"), h.URL, where), h.Expect, res.Answers)
	case c.TCP != nil, c.UDP != nil:
		kind, w := "tcp", c.TCP
		if c.UDP != nil {
			kind, w = "udp", c.UDP
		}
		spec := probe.Spec{Kind: kind, Address: w.Address, Send: w.Send, Requests: w.Requests, Timeout: w.Timeout.Duration}
		res, where, err := g.runProbe(ctx, e.Namespace, string(w.From), spec)
		if err != nil {
			return resultOf(err)
		}
		return judgeWire(fmt.Sprintf("%s %s from %s", kind, w.Address, where), kind, w.Send != "", w.Expect, res.Answers)
	}
	return errored(fmt.Errorf("not a traffic check"))
}

// judgeHTTP says whether the answers meet the expectation, and what was seen.
func judgeHTTP(what string, x exercises.HTTPExpect, answers []probe.Answer) CheckResult {
	if len(answers) == 0 {
		return failed("%s: no request was sent", what)
	}
	errs := 0
	for _, a := range answers {
		if a.Err != "" {
			errs++
		}
	}
	if x.Fails {
		if errs == len(answers) {
			return passed("%s failed as expected: %s", what, answers[0].Err)
		}
		return failed("%s answered (status %d: %s), want it to fail", what, firstAnswered(answers).Status, clip(firstAnswered(answers).Body))
	}
	if errs > 0 {
		return failed("%s: %d of %d requests failed: %s", what, errs, len(answers), firstErr(answers))
	}
	var re *regexp.Regexp
	if x.BodyMatches != "" {
		re = regexp.MustCompile(x.BodyMatches)
	}
	pods := map[string]bool{}
	for _, a := range answers {
		want := x.Status
		if want == 0 {
			want = 200
		}
		if a.Status != want {
			return failed("%s: status %d, want %d (body: %s)", what, a.Status, want, clip(a.Body))
		}
		if x.BodyContains != "" && !strings.Contains(a.Body, x.BodyContains) {
			return failed("%s: the body does not contain %q: %s", what, x.BodyContains, clip(a.Body))
		}
		if re != nil && !re.MatchString(a.Body) {
			return failed("%s: the body does not match %q: %s", what, x.BodyMatches, clip(a.Body))
		}
		if x.CertDNSName != "" && !slices.Contains(a.CertDNSNames, x.CertDNSName) {
			return failed("%s: the TLS certificate names %v, want %s", what, a.CertDNSNames, x.CertDNSName)
		}
		if a.Pod != "" {
			pods[a.Pod] = true
		}
	}
	if len(pods) < x.DistinctPods {
		return failed("%s: %d answers came from %d pod(s) %v, want at least %d", what, len(answers), len(pods), keys(pods), x.DistinctPods)
	}
	msg := fmt.Sprintf("%s: %d answer(s), status %d", what, len(answers), answers[0].Status)
	if len(pods) > 0 {
		msg += fmt.Sprintf(", from %d pod(s) %v", len(pods), keys(pods))
	}
	return passed("%s", msg)
}

func judgeWire(what, kind string, sent bool, x exercises.WireExpect, answers []probe.Answer) CheckResult {
	if len(answers) == 0 {
		return failed("%s: nothing was sent", what)
	}
	errs := 0
	for _, a := range answers {
		if a.Err != "" {
			errs++
		}
	}
	if x.Fails {
		if errs == len(answers) {
			return passed("%s failed as expected: %s", what, answers[0].Err)
		}
		return failed("%s got through (%s), want it to fail", what, clip(firstAnswered(answers).Body))
	}
	if errs > 0 {
		return failed("%s: %d of %d attempts failed: %s", what, errs, len(answers), firstErr(answers))
	}
	pods := map[string]bool{}
	for _, a := range answers {
		if x.ReplyContains != "" && !strings.Contains(a.Body, x.ReplyContains) {
			return failed("%s: the reply does not contain %q: %s", what, x.ReplyContains, clip(a.Body))
		}
		if a.Pod != "" {
			pods[a.Pod] = true
		}
	}
	if len(pods) < x.DistinctPods {
		return failed("%s: replies came from %d pod(s) %v, want at least %d", what, len(pods), keys(pods), x.DistinctPods)
	}
	if !sent {
		return passed("%s: %d connection(s) opened", what, len(answers))
	}
	return passed("%s: %d reply(ies), from %d pod(s) %v", what, len(answers), len(pods), keys(pods))
}

func firstAnswered(as []probe.Answer) probe.Answer {
	for _, a := range as {
		if a.Err == "" {
			return a
		}
	}
	return probe.Answer{}
}

func firstErr(as []probe.Answer) string {
	for _, a := range as {
		if a.Err != "" {
			return a.Err
		}
	}
	return ""
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// checkDNS resolves a name where the check says and judges the answer.
func (g *Grader) checkDNS(ctx context.Context, e *exercises.Exercise, d *exercises.DNSCheck) CheckResult {
	spec := probe.Spec{Kind: "dns", Name: d.Name, Type: d.Type, Server: d.Server}
	res, where, err := g.runProbe(ctx, e.Namespace, string(d.From), spec)
	if err != nil {
		return resultOf(err)
	}
	what := fmt.Sprintf("%s %s from %s", cmp.Or(strings.ToUpper(d.Type), "A"), d.Name, where)
	return judgeDNS(what, d, res.DNS)
}

func judgeDNS(what string, d *exercises.DNSCheck, a *probe.DNSAnswer) CheckResult {
	if a == nil {
		return errored(fmt.Errorf("%s: no DNS result", what))
	}
	if a.Err != "" {
		return failed("%s: %s", what, a.Err)
	}
	saw := fmt.Sprintf("%s: %s %v", what, a.Rcode, a.Records)
	wantRcode := strings.ToUpper(cmp.Or(d.Expect.Rcode, "NOERROR"))
	if a.Rcode != wantRcode {
		return failed("%s; want %s", saw, wantRcode)
	}
	qtype := strings.ToUpper(cmp.Or(d.Type, "A"))
	n := 0
	for _, r := range a.Records {
		if strings.HasPrefix(r, qtype+" ") {
			n++
		}
	}
	if !d.Expect.Answers.Match(n) {
		return failed("%s; want %s %s record(s)", saw, d.Expect.Answers, qtype)
	}
	if d.Expect.Contains != "" && !slices.ContainsFunc(a.Records, func(r string) bool { return strings.Contains(r, d.Expect.Contains) }) {
		return failed("%s; want an answer containing %s", saw, d.Expect.Contains)
	}
	if d.Expect.CNAME != "" {
		want := strings.TrimSuffix(d.Expect.CNAME, ".") + "."
		if len(a.Records) == 0 || a.Records[0] != "CNAME "+want {
			return failed("%s; want the answer to start with CNAME %s", saw, want)
		}
	}
	return passed("%s", saw)
}
