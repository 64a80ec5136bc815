package exercises

import (
	"strings"
	"testing"
	"testing/fstest"
)

const goodMeta = `title: NodePort
summary: Reach a Service from outside.
order: 20
minutes: 15
topics: [NodePort]
namespace: ex-nodeport
steps:
- id: expose
  title: Expose it
  file: steps/01-expose.md
- id: read
  title: Only reading
  file: steps/02-read.md
  transient: true
`

const goodChecks = `expose:
- name: the Service is a NodePort
  hint: kubectl expose
  within: 5s
  object:
    resource: svc
    name: web
    expect:
    - spec.type == NodePort
    - spec.ports[0].nodePort >= 30000
- name: every node answers
  http:
    each: node
    url: 'http://{{ .Node.IP }}:{{ nodePort "web" }}/'
    requests: 4
    expect: {status: 200, distinctPods: 2}
- name: endpoints
  endpoints: {service: web, ready: ">= 2"}
`

func fsWith(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

func goodFS() map[string]string {
	return map[string]string{
		"nodeport/exercise.yaml":      goodMeta,
		"nodeport/steps/01-expose.md": "# Expose\n",
		"nodeport/steps/02-read.md":   "# Read\n",
		"nodeport/checks.yaml":        goodChecks,
		"nodeport/solution/expose.sh": "kubectl expose\n",
	}
}

func TestLoadGood(t *testing.T) {
	c, err := LoadFS(fsWith(goodFS()), ".", "exercises")
	if err != nil {
		t.Fatal(err)
	}
	e := c.Get("nodeport")
	if e == nil || e.Title != "NodePort" || e.Namespace != "ex-nodeport" || len(e.Steps) != 2 {
		t.Fatalf("exercise: %+v", e)
	}
	s := e.Steps[0]
	if s.Body != "# Expose\n" || len(s.Checks) != 3 || s.Solution != "solution/expose.sh" || e.Steps[1].Solution != "" || !e.Steps[1].Transient {
		t.Fatalf("step: %+v", s)
	}
	if k := s.Checks[0].Kind(); k != "object" || s.Checks[0].Within.Seconds() != 5 || s.Checks[0].Line != 2 || s.Checks[0].File != "exercises/nodeport/checks.yaml" {
		t.Fatalf("check 0: kind %s %+v", k, s.Checks[0])
	}
	if c := s.Checks[2].Endpoints.Ready; c.Op != ">=" || c.N != 2 || !c.Match(3) || c.Match(1) {
		t.Fatalf("count: %+v", c)
	}
}

// Each bad input must be refused with the file, the line and what is wrong.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"unknown field", "nodeport/exercise.yaml", goodMeta + "colour: red\n", "exercises/nodeport/exercise.yaml:15: field colour not found"},
		{"bad namespace", "nodeport/exercise.yaml", strings.Replace(goodMeta, "ex-nodeport", "Ex_NodePort", 1), "exercise.yaml:6: namespace \"Ex_NodePort\" must be a DNS label"},
		{"missing step file", "nodeport/steps/02-read.md", "", ""},
		{"two kinds", "nodeport/checks.yaml", "expose:\n- name: x\n  endpoints: {service: web, ready: 1}\n  object: {resource: svc, name: web}\n", "checks.yaml:2: check \"x\": give exactly one of"},
		{"no kind", "nodeport/checks.yaml", "expose:\n- name: x\n  hint: y\n", "checks.yaml:2: check \"x\": give exactly one of"},
		{"bad expectation", "nodeport/checks.yaml", "expose:\n- name: x\n  object: {resource: svc, name: web, expect: [spec.type is NodePort]}\n", "checks.yaml:2: check \"x\": expectation \"spec.type is NodePort\""},
		{"bad jsonpath", "nodeport/checks.yaml", "expose:\n- name: x\n  object: {resource: svc, name: web, expect: ['spec.ports[0 == 1']}\n", "path \"spec.ports[0\""},
		{"bad template", "nodeport/checks.yaml", "expose:\n- name: x\n  http: {url: 'http://{{ nodePort \"web\" }:80/'}\n", "checks.yaml:2: check \"x\": template"},
		{"unknown template func", "nodeport/checks.yaml", "expose:\n- name: x\n  http: {url: 'http://{{ serviceIP \"web\" }}/'}\n", "function \"serviceIP\" not defined"},
		{"bad from", "nodeport/checks.yaml", "expose:\n- name: x\n  http: {from: laptop, url: 'http://a/'}\n", "http.from \"laptop\": use host, node/NAME"},
		{"bad count", "nodeport/checks.yaml", "expose:\n- name: x\n  endpoints: {service: web, ready: lots}\n", "checks.yaml:3: count \"lots\""},
		{"bad duration", "nodeport/checks.yaml", "expose:\n- name: x\n  within: soon\n  endpoints: {service: web, ready: 1}\n", "checks.yaml:3: duration \"soon\""},
		{"unknown step", "nodeport/checks.yaml", "deploy:\n- name: x\n  endpoints: {service: web, ready: 1}\n", "checks.yaml:1: step \"deploy\" is not a step of exercise.yaml (steps: expose, read)"},
		{"distinct pods need requests", "nodeport/checks.yaml", "expose:\n- name: x\n  http: {url: 'http://a/', expect: {distinctPods: 3}}\n", "distinctPods 3 needs requests >= 3"},
		{"bad dns type", "nodeport/checks.yaml", "expose:\n- name: x\n  dns: {from: pod/client, name: web, type: QQ}\n", "dns.type \"QQ\" is not a DNS record type"},
		{"bad verdict", "nodeport/checks.yaml", "expose:\n- name: x\n  trace: {node: n, from: 1.2.3.4, to: 1.2.3.4:80, expect: {verdict: maybe}}\n", "trace.expect.verdict \"maybe\""},
		{"command in pod", "nodeport/checks.yaml", "expose:\n- name: x\n  command: {run: 'true', on: pod/web}\n", "command.on: use host or node/NAME"},
		{"no name", "nodeport/checks.yaml", "expose:\n- endpoints: {service: web, ready: 1}\n", "name is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := goodFS()
			if tc.content == "" {
				delete(files, tc.file)
				tc.want = "exercises/nodeport/steps/02-read.md: cannot read"
			} else {
				files[tc.file] = tc.content
			}
			_, err := LoadFS(fsWith(files), ".", "exercises")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPrerequisitesMustExist(t *testing.T) {
	files := goodFS()
	files["nodeport/exercise.yaml"] = strings.Replace(goodMeta, "topics:", "prerequisites: [clusterip]\ntopics:", 1)
	_, err := LoadFS(fsWith(files), ".", "exercises")
	if err == nil || !strings.Contains(err.Error(), `prerequisite "clusterip" is not an exercise`) {
		t.Fatalf("error %v", err)
	}
}

func TestParseExpectation(t *testing.T) {
	for in, want := range map[string]Expectation{
		"spec.type == NodePort":                     {Path: "spec.type", Op: "==", Value: "NodePort"},
		"spec.ports[0].nodePort >= 30000":           {Path: "spec.ports[0].nodePort", Op: ">=", Value: "30000"},
		"metadata.labels.app exists":                {Path: "metadata.labels.app", Op: "exists"},
		"spec.selector absent":                      {Path: "spec.selector", Op: "absent"},
		`spec.externalName == "db.example.com"`:     {Path: "spec.externalName", Op: "==", Value: "db.example.com"},
		"spec.ports[*].port contains 80":            {Path: "spec.ports[*].port", Op: "contains", Value: "80"},
		"status.loadBalancer.ingress[0].ip =~ ^172": {Path: "status.loadBalancer.ingress[0].ip", Op: "=~", Value: "^172"},
		"spec.replicas != 0":                        {Path: "spec.replicas", Op: "!=", Value: "0"},
	} {
		got, err := ParseExpectation(in)
		got.Source = ""
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"spec.type", "== x", "a exists b", "a =~ ("} {
		if _, err := ParseExpectation(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]Count{"3": {"==", 3}, ">= 2": {">=", 2}, ">0": {">", 0}, "<= 1": {"<=", 1}, "!= 0": {"!=", 0}} {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	if _, err := ParseCount("many"); err == nil {
		t.Error("no error for many")
	}
}
