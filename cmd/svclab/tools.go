package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/svclab/svclab/lab/podpath"
	"github.com/svclab/svclab/proxy/dns/stub"
)

// resolvConfPath is the pod's resolv.conf, translated for the process runtime.
func resolvConfPath() string { return podpath.Host("/etc/resolv.conf") }

// digArgs is what dig's positional arguments say.
type digArgs struct {
	name   string
	qtype  uint16
	server string // "host:port"; empty: resolv.conf's
	short  bool
	search bool
	tcp    bool
}

// parseDigArgs reads dig-style arguments: NAME, TYPE, @SERVER, +short, +tcp, +search and
// +nosearch, in any order; -x ADDR is a reverse lookup.
func parseDigArgs(args []string, reverse string) (digArgs, error) {
	d := digArgs{qtype: dns.TypeA, search: true}
	if reverse != "" {
		n, err := dns.ReverseAddr(reverse)
		if err != nil {
			return d, fmt.Errorf("-x %s: %w", reverse, err)
		}
		d.name, d.qtype = n, dns.TypePTR
	}
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "@"):
			host := strings.TrimPrefix(a, "@")
			if _, _, err := net.SplitHostPort(host); err != nil {
				host = net.JoinHostPort(strings.Trim(host, "[]"), "53")
			}
			d.server = host
		case a == "+short":
			d.short = true
		case a == "+tcp" || a == "+vc":
			d.tcp = true
		case a == "+search":
			d.search = true
		case a == "+nosearch":
			d.search = false
		case strings.HasPrefix(a, "+"):
			return d, fmt.Errorf("unknown option %s (supported: +short +tcp +search +nosearch)", a)
		default:
			if t, ok := dns.StringToType[strings.ToUpper(a)]; ok && d.name != "" {
				d.qtype = t
				continue
			}
			if d.name != "" {
				return d, fmt.Errorf("unexpected argument %q: one NAME, then TYPE and @SERVER", a)
			}
			d.name = a
		}
	}
	if d.name == "" {
		return d, errors.New("missing NAME: svclab dig NAME [TYPE] [@SERVER]")
	}
	return d, nil
}

func newDigCmd() *cobra.Command {
	var reverse string
	cmd := &cobra.Command{
		Use:   "dig NAME [TYPE] [@SERVER] [+short] [+tcp] [+nosearch]",
		Short: "Look a name up like dig (a tool of the built-in image)",
		Long: `Ask the nameserver of /etc/resolv.conf (or @SERVER) and print the response like dig:
status, flags, question, answer, authority and additional sections. A name that is not fully
qualified goes through resolv.conf's search list and ndots like a pod's own resolver, so
"svclab dig web" finds web.<namespace>.svc.cluster.local; +nosearch asks for it as is.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseDigArgs(args, reverse)
			if err != nil {
				return err
			}
			r, err := stub.Load(resolvConfPath())
			if err != nil && d.server == "" {
				return err
			}
			return runDig(cmd.Context(), cmd.OutOrStdout(), r, d)
		},
	}
	cmd.Flags().StringVarP(&reverse, "reverse", "x", "", "reverse lookup of an address (PTR)")
	return cmd
}

func runDig(ctx context.Context, out io.Writer, r *stub.Resolver, d digArgs) error {
	if r == nil {
		r = &stub.Resolver{}
	}
	if d.server != "" {
		r.Servers = []string{d.server}
	}
	r.TCP = d.tcp
	a, err := r.Query(ctx, d.name, d.qtype, d.search)
	if err != nil {
		fmt.Fprintf(out, ";; connection timed out; no servers could be reached\n")
		return err
	}
	if d.short {
		for _, rr := range a.Msg.Answer {
			fields := strings.SplitN(rr.String(), "\t", 5)
			fmt.Fprintln(out, fields[len(fields)-1])
		}
		return nil
	}
	fmt.Fprintf(out, "; <<>> svclab dig <<>> %s %s\n", d.name, dns.TypeToString[d.qtype])
	fmt.Fprintln(out, strings.TrimSpace(strings.Replace(a.Msg.String(), ";; opcode", ";; ->>HEADER<<- opcode", 1)))
	host, port, _ := net.SplitHostPort(a.Server)
	fmt.Fprintf(out, "\n;; Query time: %d msec\n;; SERVER: %s#%s(%s) (%s)\n", a.RTT.Milliseconds(), host, port, host, strings.ToUpper(a.Proto))
	return nil
}

// curlFlags are the curl options the tool understands.
type curlFlags struct {
	silent     bool
	showErrors bool
	maxTime    float64
	verbose    bool
	include    bool
	headers    []string
	method     string
	data       string
	output     string
}

// curlExit is curl's exit code for a failure (6 resolve, 7 connect, 28 timeout, 22 HTTP
// error with -f).
type curlExit struct {
	code int
	err  error
}

func (e *curlExit) Error() string { return fmt.Sprintf("curl: (%d) %v", e.code, e.err) }
func (e *curlExit) Unwrap() error { return e.err }

func newCurlCmd() *cobra.Command {
	f := &curlFlags{}
	cmd := &cobra.Command{
		Use:   "curl [-s] [-m SECONDS] [-v] [-i] [-H HEADER] [-X METHOD] [-d DATA] URL",
		Short: "Fetch a URL like curl, resolving names like the pod's resolver (a tool of the built-in image)",
		Long: `A small curl: names resolve through /etc/resolv.conf's nameserver, search list and ndots,
so "svclab curl http://web" works in a pod as on a real cluster. Exit codes follow curl:
6 could not resolve, 7 could not connect, 28 timed out.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Without a readable resolv.conf names resolve through Go's resolver.
			res, _ := stub.Load(resolvConfPath())
			err := runCurl(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), res, args[0], f)
			var ce *curlExit
			if errors.As(err, &ce) {
				if !f.silent || f.showErrors {
					fmt.Fprintln(cmd.ErrOrStderr(), ce.Error())
				}
				// curl's exit codes are part of its interface for scripts and probes.
				os.Exit(ce.code)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.silent, "silent", "s", false, "no error messages")
	fl.BoolVarP(&f.showErrors, "show-error", "S", false, "error messages even with -s")
	fl.Float64VarP(&f.maxTime, "max-time", "m", 0, "maximum time in seconds for the whole transfer")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "show the connection, request and response headers on stderr")
	fl.BoolVarP(&f.include, "include", "i", false, "print the response headers before the body")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "extra request header \"Name: value\"")
	fl.StringVarP(&f.method, "request", "X", "", "request method")
	fl.StringVarP(&f.data, "data", "d", "", "request body (method POST unless -X)")
	fl.StringVarP(&f.output, "output", "o", "", "write the body to this file")
	return cmd
}

func runCurl(ctx context.Context, stdout, stderr io.Writer, res *stub.Resolver, rawURL string, f *curlFlags) error {
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	if f.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(f.maxTime*float64(time.Second)))
		defer cancel()
	}
	dialer := &net.Dialer{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if res == nil {
			return dialer.DialContext(ctx, network, addr)
		}
		ips, err := res.LookupHost(ctx, host)
		if err != nil {
			return nil, &curlExit{6, fmt.Errorf("Could not resolve host: %s", host)}
		}
		var errs []error
		for _, ip := range ips {
			if f.verbose {
				fmt.Fprintf(stderr, "*   Trying %s...\n", net.JoinHostPort(ip.String(), port))
			}
			c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				if f.verbose {
					fmt.Fprintf(stderr, "* Connected to %s (%s) port %s\n", host, ip, port)
				}
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, &curlExit{7, fmt.Errorf("Failed to connect to %s port %s: %w", host, port, errors.Join(errs...))}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext, tr.Proxy = dial, nil
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	method := f.method
	var body io.Reader
	if f.data != "" {
		body = strings.NewReader(f.data)
		if method == "" {
			method = http.MethodPost
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return &curlExit{3, err}
	}
	req.Header.Set("User-Agent", "svclab-curl")
	if f.data != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return &curlExit{2, fmt.Errorf("header %q is not \"Name: value\"", h)}
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if f.verbose {
		dump, _ := httputil.DumpRequestOut(req, false)
		prefixLines(stderr, "> ", string(dump))
	}
	resp, err := client.Do(req)
	if err != nil {
		var ce *curlExit
		switch {
		case errors.As(err, &ce):
			return ce
		case ctx.Err() != nil:
			return &curlExit{28, fmt.Errorf("Operation timed out after %d milliseconds", int(f.maxTime*1000))}
		}
		return &curlExit{56, err}
	}
	defer resp.Body.Close()
	if f.verbose || f.include {
		dump, _ := httputil.DumpResponse(resp, false)
		if f.verbose {
			prefixLines(stderr, "< ", string(dump))
		}
		if f.include {
			fmt.Fprint(stdout, string(dump))
		}
	}
	out := stdout
	if f.output != "" {
		file, err := os.Create(f.output)
		if err != nil {
			return &curlExit{23, err}
		}
		defer file.Close()
		out = file
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		if ctx.Err() != nil {
			return &curlExit{28, errors.New("Operation timed out")}
		}
		return &curlExit{56, err}
	}
	return nil
}

func prefixLines(w io.Writer, prefix, s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\r\n"), "\n") {
		fmt.Fprintln(w, prefix+strings.TrimRight(l, "\r"))
	}
	fmt.Fprintln(w, prefix)
}
