package exercises

import (
	"io/fs"
	"time"
)

// Exercise is one guided exercise: metadata, ordered steps and their checks.
type Exercise struct {
	// ID is the folder name ("nodeport"); exercises are addressed by it.
	ID      string
	Title   string
	Summary string
	// Order sorts the catalogue (smaller first, then ID).
	Order   int
	Minutes int
	// Prerequisites are IDs of exercises to do first.
	Prerequisites []string
	// Topics are short tags for the list ("NodePort", "kube-proxy").
	Topics []string
	// Namespace is where the exercise's objects live; checks default to it.
	Namespace string
	Steps     []Step
	// Dir is the exercise's folder inside FS.
	Dir string
	FS  fs.FS `json:"-"`
}

// Step is one step: an explanation in Markdown and the checks that say it is done.
type Step struct {
	ID     string
	Title  string
	Body   string // Markdown
	Checks []Check
	// Transient: the checks hold only while the learner is at this step (a later step
	// changes what they test, e.g. the proxy mode). Grading a whole exercise skips them;
	// checking the step alone runs them.
	Transient bool
	// Solution is the step's reference solution script ("solution/ID.sh" when present),
	// run with bash, KUBECONFIG set and the exercise folder as working directory.
	Solution string
}

// Check is one expectation about the lab. Exactly one of the kind fields is set.
type Check struct {
	Name string `yaml:"name"`
	// Hint is shown when the check fails: what to try.
	Hint string `yaml:"hint"`
	// Within retries a failing check until it passes or this much time has passed
	// (for things that converge, such as endpoints becoming ready).
	Within Duration `yaml:"within"`

	Object    *ObjectCheck    `yaml:"object"`
	Endpoints *EndpointsCheck `yaml:"endpoints"`
	HTTP      *HTTPCheck      `yaml:"http"`
	TCP       *WireCheck      `yaml:"tcp"`
	UDP       *WireCheck      `yaml:"udp"`
	DNS       *DNSCheck       `yaml:"dns"`
	Trace     *TraceCheck     `yaml:"trace"`
	Command   *CommandCheck   `yaml:"command"`

	// File and Line locate the check in its checks.yaml, for messages.
	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Kind names the check's kind ("object", "http", ...).
func (c *Check) Kind() string {
	switch {
	case c.Object != nil:
		return "object"
	case c.Endpoints != nil:
		return "endpoints"
	case c.HTTP != nil:
		return "http"
	case c.TCP != nil:
		return "tcp"
	case c.UDP != nil:
		return "udp"
	case c.DNS != nil:
		return "dns"
	case c.Trace != nil:
		return "trace"
	case c.Command != nil:
		return "command"
	}
	return ""
}

// ObjectCheck asserts on API objects: one by name, or all that match a label selector.
//
//	object:
//	  resource: services        # plural resource, kind ("Service") or short name ("svc")
//	  name: web                 # or selector: app=web (then count applies)
//	  namespace: other          # default: the exercise's namespace; "" for cluster-scoped kinds
//	  expect:
//	  - spec.type == NodePort
//	  - metadata.labels.app exists
//	  - spec.ports[0].nodePort >= 30000
//
// An expectation is PATH OP [VALUE]: PATH is a kubectl JSONPath without braces, OP one of
// == != > >= < <= =~ (regular expression) contains (any result equals VALUE) exists absent.
type ObjectCheck struct {
	Resource  string   `yaml:"resource"`
	Name      string   `yaml:"name"`
	Namespace *string  `yaml:"namespace"`
	Selector  string   `yaml:"selector"`
	Count     Count    `yaml:"count"`
	Expect    []string `yaml:"expect"`
	// Absent expects the named object not to exist.
	Absent bool `yaml:"absent"`
}

// EndpointsCheck counts a Service's endpoints in its EndpointSlices.
type EndpointsCheck struct {
	Service   string  `yaml:"service"`
	Namespace *string `yaml:"namespace"`
	Ready     Count   `yaml:"ready"`
	NotReady  Count   `yaml:"notReady"`
}

// From says where a probe runs: "host" (the grader's own network, the default), "node/NAME"
// (inside that node's network namespace; needs a local lab), or "pod/NAME",
// "pod/NAMESPACE/NAME" or "pod/LABEL=VALUE" (the first ready pod matching; the probe runs
// with `kubectl exec` semantics, so the pod's image must carry /svclab, as the built-in
// image does).
type From string

// Each repeats a check per node: "node" runs it once per node, with .Node.Name and
// .Node.IP in its templates.
type Each string

// HTTPCheck sends HTTP requests and checks the answers.
type HTTPCheck struct {
	From    From              `yaml:"from"`
	Each    Each              `yaml:"each"`
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`
	Host    string            `yaml:"host"` // Host header (and TLS server name unless ServerName is set)
	Headers map[string]string `yaml:"headers"`
	// ServerName is the TLS SNI; certificates are not verified (lab certificates are
	// self-signed), but Expect.CertDNSName checks which one was served.
	ServerName string `yaml:"serverName"`
	// Requests is how many requests to send (default 1; more for DistinctPods).
	Requests int        `yaml:"requests"`
	Timeout  Duration   `yaml:"timeout"`
	Expect   HTTPExpect `yaml:"expect"`
}

// HTTPExpect is what every answer (or, for DistinctPods, the set of answers) must show.
type HTTPExpect struct {
	Status       int    `yaml:"status"`
	BodyContains string `yaml:"bodyContains"`
	BodyMatches  string `yaml:"bodyMatches"`
	// DistinctPods: the answers came from at least this many pods (the built-in image
	// answers "pod=NAME ..."; the X-Svclab-Pod header counts too).
	DistinctPods int `yaml:"distinctPods"`
	// CertDNSName: the served certificate names this DNS name.
	CertDNSName string `yaml:"certDNSName"`
	// Fails expects the request to fail (refused, timed out, reset).
	Fails bool `yaml:"fails"`
}

// WireCheck is a TCP or UDP check. TCP opens connections (and, when Send is set, writes
// it and reads the reply); UDP sends Send as a datagram and reads the reply.
type WireCheck struct {
	From     From       `yaml:"from"`
	Each     Each       `yaml:"each"`
	Address  string     `yaml:"address"`
	Send     string     `yaml:"send"`
	Requests int        `yaml:"requests"`
	Timeout  Duration   `yaml:"timeout"`
	Expect   WireExpect `yaml:"expect"`
}

// WireExpect is what TCP and UDP probes expect.
type WireExpect struct {
	// Fails expects no connection (TCP) or no reply (UDP).
	Fails         bool   `yaml:"fails"`
	ReplyContains string `yaml:"replyContains"`
	DistinctPods  int    `yaml:"distinctPods"`
}

// DNSCheck resolves a name, by default with the resolver of where it runs (a pod's
// resolv.conf: cluster DNS and its search path).
type DNSCheck struct {
	From   From      `yaml:"from"`
	Name   string    `yaml:"name"`
	Type   string    `yaml:"type"` // A (default), AAAA, SRV, CNAME, PTR, TXT
	Server string    `yaml:"server"`
	Expect DNSExpect `yaml:"expect"`
}

// DNSExpect is what the DNS answer must show.
type DNSExpect struct {
	Rcode string `yaml:"rcode"` // NOERROR (default), NXDOMAIN, ...
	// Answers is how many answer records of the asked type there are.
	Answers Count `yaml:"answers"`
	// Contains: some answer record's data (address, target, ...) equals or contains this.
	Contains string `yaml:"contains"`
	// CNAME: the answer starts with a CNAME to this name.
	CNAME string `yaml:"cname"`
}

// TraceCheck runs the packet tracer over a node's live kube-proxy rules.
type TraceCheck struct {
	Node   string      `yaml:"node"`
	From   string      `yaml:"from"` // IP or IP:PORT
	To     string      `yaml:"to"`   // IP:PORT[/tcp|udp]
	Expect TraceExpect `yaml:"expect"`
}

// TraceExpect is what the walk must show.
type TraceExpect struct {
	Verdict string `yaml:"verdict"` // forwarded, rejected, dropped, untouched, proxied
	// EndpointsOf: every choice is a ready endpoint of this Service and every ready
	// endpoint is a choice.
	EndpointsOf string `yaml:"endpointsOf"`
	Choices     Count  `yaml:"choices"`
	Masquerade  *bool  `yaml:"masquerade"`
	// StepContains: some step's rule or note contains this text.
	StepContains string `yaml:"stepContains"`
	Mode         string `yaml:"mode"` // iptables, nftables, ipvs, userspace
}

// CommandCheck runs a shell command (bash -c) on the host or in a node, with KUBECONFIG
// set to the graded cluster's.
type CommandCheck struct {
	Run    string        `yaml:"run"`
	On     From          `yaml:"on"` // host (default) or node/NAME
	Expect CommandExpect `yaml:"expect"`
}

// CommandExpect is what the command must do.
type CommandExpect struct {
	ExitCode       *int   `yaml:"exitCode"` // default 0
	OutputContains string `yaml:"outputContains"`
	OutputMatches  string `yaml:"outputMatches"`
}

// Duration is a time.Duration written as "5s" in YAML.
type Duration struct{ time.Duration }
