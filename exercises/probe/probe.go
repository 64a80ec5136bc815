package probe

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/svclab/svclab/proxy/dns/stub"
)

// Spec is one probe: what to send, how often and where.
type Spec struct {
	Kind string `json:"kind"` // http, tcp, udp, dns

	URL        string            `json:"url,omitempty"`
	Method     string            `json:"method,omitempty"`
	Host       string            `json:"host,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	ServerName string            `json:"serverName,omitempty"`

	Address string `json:"address,omitempty"` // tcp, udp: HOST:PORT
	Send    string `json:"send,omitempty"`

	Name   string `json:"name,omitempty"` // dns
	Type   string `json:"type,omitempty"`
	Server string `json:"server,omitempty"`

	Requests int           `json:"requests,omitempty"` // default 1
	Timeout  time.Duration `json:"timeout,omitempty"`  // per request; default 2s
}

// Answer is the outcome of one request.
type Answer struct {
	Err    string `json:"err,omitempty"`
	Status int    `json:"status,omitempty"`
	// Body is the response body or reply (at most MaxBody bytes).
	Body         string   `json:"body,omitempty"`
	Pod          string   `json:"pod,omitempty"` // the answering pod, when it says
	CertDNSNames []string `json:"certDNSNames,omitempty"`
}

// DNSAnswer is the outcome of a DNS query.
type DNSAnswer struct {
	Err   string `json:"err,omitempty"`
	Rcode string `json:"rcode,omitempty"`
	// Records are the answer section as "TYPE DATA" ("A 10.96.0.12", "CNAME db.example.com.").
	Records []string `json:"records,omitempty"`
	Name    string   `json:"name,omitempty"` // the name that answered (after the search list)
}

// Result is what a probe saw.
type Result struct {
	Answers []Answer   `json:"answers,omitempty"`
	DNS     *DNSAnswer `json:"dns,omitempty"`
}

// MaxBody bounds what is kept of each answer.
const MaxBody = 4096

// Env is where a probe runs.
type Env struct {
	// Resolver is the stub resolver of the pod's resolv.conf (nil: Go's resolver).
	Resolver *stub.Resolver
}

// Run sends the probe and collects the answers; it never sends more than Requests (at
// most 200) requests, each bounded by Timeout.
func Run(ctx context.Context, env Env, s Spec) Result {
	n := s.Requests
	if n <= 0 {
		n = 1
	}
	n = min(n, 200)
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Second
	}
	switch s.Kind {
	case "dns":
		return Result{DNS: runDNS(ctx, env, s)}
	case "http":
		return Result{Answers: runHTTP(ctx, env, s, n)}
	case "tcp", "udp":
		var out []Answer
		for i := 0; i < n && ctx.Err() == nil; i++ {
			out = append(out, runWire(ctx, env, s))
		}
		return Result{Answers: out}
	}
	return Result{Answers: []Answer{{Err: fmt.Sprintf("unknown probe kind %q", s.Kind)}}}
}

func dialer(env Env) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if env.Resolver == nil || net.ParseIP(host) != nil {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := env.Resolver.LookupHost(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("could not resolve %s: %w", host, err)
		}
		var errs []error
		for _, ip := range ips {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

func runHTTP(ctx context.Context, env Env, s Spec, n int) []Answer {
	tr := &http.Transport{
		DialContext:       dialer(env),
		DisableKeepAlives: true, // each request is a new connection: a new load-balancing choice
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: cmp.Or(s.ServerName, s.Host)},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: s.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	method := cmp.Or(s.Method, http.MethodGet)
	var out []Answer
	for i := 0; i < n && ctx.Err() == nil; i++ {
		req, err := http.NewRequestWithContext(ctx, method, s.URL, nil)
		if err != nil {
			return []Answer{{Err: err.Error()}}
		}
		if s.Host != "" {
			req.Host = s.Host
		}
		for k, v := range s.Headers {
			req.Header.Set(k, v)
		}
		req.Header.Set("User-Agent", "svclab-grade")
		resp, err := client.Do(req)
		if err != nil {
			out = append(out, Answer{Err: err.Error()})
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		resp.Body.Close()
		a := Answer{Status: resp.StatusCode, Body: string(body), Pod: resp.Header.Get("X-Svclab-Pod")}
		if a.Pod == "" {
			a.Pod = PodOf(a.Body)
		}
		if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
			a.CertDNSNames = resp.TLS.PeerCertificates[0].DNSNames
		}
		out = append(out, a)
	}
	return out
}

func runWire(ctx context.Context, env Env, s Spec) Answer {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	c, err := dialer(env)(ctx, s.Kind, s.Address)
	if err != nil {
		return Answer{Err: err.Error()}
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if s.Send == "" {
		return Answer{} // a TCP connect is the whole probe
	}
	if _, err := io.WriteString(c, s.Send); err != nil {
		return Answer{Err: err.Error()}
	}
	buf := make([]byte, MaxBody)
	var got []byte
	for len(got) < MaxBody {
		k, err := c.Read(buf)
		got = append(got, buf[:k]...)
		// A datagram is one reply; a TCP echo answers its line at once.
		if err != nil || s.Kind == "udp" || strings.Contains(string(got), "\n") {
			if len(got) == 0 && err != nil {
				return Answer{Err: err.Error()}
			}
			break
		}
	}
	return Answer{Body: string(got), Pod: PodOf(string(got))}
}

func runDNS(ctx context.Context, env Env, s Spec) *DNSAnswer {
	r := env.Resolver
	if r == nil {
		r = &stub.Resolver{}
	}
	rc := *r
	if s.Server != "" {
		srv := s.Server
		if _, _, err := net.SplitHostPort(srv); err != nil {
			srv = net.JoinHostPort(srv, "53")
		}
		rc.Servers = []string{srv}
	}
	if len(rc.Servers) == 0 {
		return &DNSAnswer{Err: "no nameserver: give dns.server, or run the check from a pod"}
	}
	rc.Timeout = s.Timeout
	qtype, ok := dns.StringToType[strings.ToUpper(cmp.Or(s.Type, "A"))]
	if !ok {
		return &DNSAnswer{Err: fmt.Sprintf("unknown record type %q", s.Type)}
	}
	a, err := rc.Query(ctx, s.Name, qtype, s.Server == "" || !dns.IsFqdn(s.Name))
	if err != nil {
		return &DNSAnswer{Err: err.Error()}
	}
	out := &DNSAnswer{Rcode: dns.RcodeToString[a.Msg.Rcode], Name: a.Name}
	for _, rr := range a.Msg.Answer {
		fields := strings.SplitN(rr.String(), "\t", 5)
		out.Records = append(out.Records, dns.TypeToString[rr.Header().Rrtype]+" "+fields[len(fields)-1])
	}
	return out
}

// PodOf returns the pod named in a built-in image answer ("pod=NAME ..."), or "".
func PodOf(body string) string {
	i := strings.Index(body, "pod=")
	if i < 0 || (i > 0 && body[i-1] != ' ' && body[i-1] != '\n') {
		return ""
	}
	rest := body[i+len("pod="):]
	if j := strings.IndexAny(rest, " \n\t"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
