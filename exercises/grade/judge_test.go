package grade

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/probe"
	"github.com/svclab/svclab/proxy/trace"
)

func answers(bodies ...string) []probe.Answer {
	var out []probe.Answer
	for _, b := range bodies {
		out = append(out, probe.Answer{Status: 200, Body: b, Pod: probe.PodOf(b)})
	}
	return out
}

func TestJudgeHTTP(t *testing.T) {
	two := answers("pod=web-a ns=x", "pod=web-b ns=x", "pod=web-a ns=x")
	for _, tc := range []struct {
		name   string
		expect exercises.HTTPExpect
		got    []probe.Answer
		want   Status
		msg    string
	}{
		{"ok", exercises.HTTPExpect{Status: 200, BodyContains: "ns=x", DistinctPods: 2}, two, Pass, "from 2 pod(s) [web-a web-b]"},
		{"too few pods", exercises.HTTPExpect{DistinctPods: 3}, two, Fail, "came from 2 pod(s) [web-a web-b], want at least 3"},
		{"status", exercises.HTTPExpect{Status: 404}, two, Fail, "status 200, want 404"},
		{"body", exercises.HTTPExpect{BodyContains: "version=v2"}, two, Fail, `does not contain "version=v2"`},
		{"regexp", exercises.HTTPExpect{BodyMatches: `pod=web-[ab]`}, two, Pass, ""},
		{"errors", exercises.HTTPExpect{}, []probe.Answer{{Err: "connection refused"}}, Fail, "1 of 1 requests failed: connection refused"},
		{"fails as expected", exercises.HTTPExpect{Fails: true}, []probe.Answer{{Err: "i/o timeout"}}, Pass, "failed as expected"},
		{"should fail", exercises.HTTPExpect{Fails: true}, two, Fail, "want it to fail"},
		{"cert", exercises.HTTPExpect{CertDNSName: "a.example.com"}, []probe.Answer{{Status: 200, CertDNSNames: []string{"b.example.com"}}}, Fail, "names [b.example.com], want a.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := judgeHTTP("GET http://x/", tc.expect, tc.got)
			if r.Status != tc.want || !strings.Contains(r.Message, tc.msg) {
				t.Fatalf("%s: %s; want %s containing %q", r.Status, r.Message, tc.want, tc.msg)
			}
		})
	}
}

func TestJudgeWire(t *testing.T) {
	if r := judgeWire("udp x", "udp", true, exercises.WireExpect{ReplyContains: "hello", DistinctPods: 2}, answers("pod=a hello", "pod=b hello")); r.Status != Pass {
		t.Fatal(r.Message)
	}
	if r := judgeWire("tcp x", "tcp", false, exercises.WireExpect{Fails: true}, []probe.Answer{{}}); r.Status != Fail {
		t.Fatal(r.Message)
	}
}

func TestJudgeDNS(t *testing.T) {
	a := &probe.DNSAnswer{Rcode: "NOERROR", Records: []string{"CNAME db.example.com.", "A 10.0.0.1"}}
	d := &exercises.DNSCheck{Name: "db", Expect: exercises.DNSExpect{CNAME: "db.example.com", Answers: exercises.Count{Op: "==", N: 1}, Contains: "10.0.0.1"}}
	if r := judgeDNS("A db", d, a); r.Status != Pass {
		t.Fatal(r.Message)
	}
	d.Expect.CNAME = "other.example.com"
	if r := judgeDNS("A db", d, a); r.Status != Fail || !strings.Contains(r.Message, "CNAME other.example.com.") {
		t.Fatal(r.Message)
	}
	nx := &probe.DNSAnswer{Rcode: "NXDOMAIN"}
	if r := judgeDNS("A db", &exercises.DNSCheck{}, nx); r.Status != Fail || !strings.Contains(r.Message, "want NOERROR") {
		t.Fatal(r.Message)
	}
	if r := judgeDNS("A db", &exercises.DNSCheck{Expect: exercises.DNSExpect{Rcode: "nxdomain"}}, nx); r.Status != Pass {
		t.Fatal(r.Message)
	}
}

func TestJudgeTrace(t *testing.T) {
	ep := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	res := &trace.Result{Mode: "iptables", Verdict: trace.Forwarded, Packet: trace.Packet{Protocol: "tcp"},
		Choices: []trace.Choice{{Endpoint: ep("10.244.1.2:80"), Probability: 0.5}, {Endpoint: ep("10.244.2.2:80"), Probability: 0.5}}}
	no := false
	tc := &exercises.TraceCheck{Node: "n1", Expect: exercises.TraceExpect{Verdict: "forwarded", EndpointsOf: "web", Mode: "iptables", Masquerade: &no, Choices: exercises.Count{Op: "==", N: 2}}}
	if r := judgeTrace(tc, res, []string{"10.244.1.2", "10.244.2.2"}); r.Status != Pass {
		t.Fatal(r.Message)
	}
	if r := judgeTrace(tc, res, []string{"10.244.1.2"}); r.Status != Fail || !strings.Contains(r.Message, "want exactly the ready endpoints of web [10.244.1.2]") {
		t.Fatal(r.Message)
	}
	tc.Expect.Mode = "nftables"
	if r := judgeTrace(tc, res, nil); r.Status != Fail || !strings.Contains(r.Message, "want kube-proxy in nftables mode") {
		t.Fatal(r.Message)
	}
}

func TestJudgeCommand(t *testing.T) {
	three := 3
	c := &exercises.CommandCheck{Run: "x", Expect: exercises.CommandExpect{ExitCode: &three, OutputMatches: `^refused`}}
	if r := judgeCommand("host", c, Output{ExitCode: 3, Stderr: []byte("refused: no ipvs")}); r.Status != Pass {
		t.Fatal(r.Message)
	}
	if r := judgeCommand("host", c, Output{ExitCode: 0}); r.Status != Fail || !strings.Contains(r.Message, "exited 0, want 3") {
		t.Fatal(r.Message)
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		op   string
		want string
		ok   bool
	}{
		{[]string{"NodePort"}, "==", "NodePort", true},
		{[]string{"ClusterIP"}, "==", "NodePort", false},
		{[]string{"31000"}, ">=", "30000", true},
		{[]string{"3"}, "<", "2", false},
		{nil, "exists", "", false},
		{[]string{""}, "absent", "", true},
		{[]string{"80", "443"}, "contains", "443", true},
		{[]string{"172.30.1.5"}, "=~", `^172\.30\.`, true},
		{nil, "!=", "x", true},
		{[]string{"abc"}, ">", "1", false},
	} {
		if got := Compare(tc.vals, tc.op, tc.want); got != tc.ok {
			t.Errorf("%v %s %q = %v", tc.vals, tc.op, tc.want, got)
		}
	}
}

func TestCombine(t *testing.T) {
	for _, tc := range []struct {
		in   []Status
		want Status
	}{{nil, Pass}, {[]Status{Pass, Skip}, Pass}, {[]Status{Skip, Skip}, Skip}, {[]Status{Pass, Fail}, Fail}, {[]Status{Fail, Error}, Error}} {
		if got := combine(tc.in); got != tc.want {
			t.Errorf("%v = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestCommandEnvNamesThisBinarySvclab(t *testing.T) {
	cmd := exec.Command("bash", "-c", "svclab")
	cmd.Env = commandEnv("/bin/echo", "lab", "/k")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("svclab in a check command: %v %q", err, out)
	}
	cmd = exec.Command("bash", "-c", "svclab hello; echo $KUBECONFIG $SVCLAB_NAME")
	cmd.Env = commandEnv("/bin/echo", "lab", "/k")
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "hello\n/k lab\n" {
		t.Fatalf("svclab hello: %v %q", err, out)
	}
}

func TestJudgeCommandTrimsTrailingNewlines(t *testing.T) {
	c := &exercises.CommandCheck{Run: "x", Expect: exercises.CommandExpect{OutputMatches: `^4$`}}
	if r := judgeCommand("host", c, Output{Stdout: []byte("4\n")}); r.Status != Pass {
		t.Fatal(r.Message)
	}
}
