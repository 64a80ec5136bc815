package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/svclab/svclab/proxy/dns/stub"
)

func TestParseDigArgs(t *testing.T) {
	tests := []struct {
		args    []string
		reverse string
		want    digArgs
		wantErr string
	}{
		{args: []string{"web"}, want: digArgs{name: "web", qtype: dns.TypeA, search: true}},
		{args: []string{"_http._tcp.web", "SRV", "@10.96.0.10", "+short"}, want: digArgs{name: "_http._tcp.web", qtype: dns.TypeSRV, server: "10.96.0.10:53", short: true, search: true}},
		{args: []string{"@127.0.0.1:5353", "web.default", "aaaa", "+tcp", "+nosearch"}, want: digArgs{name: "web.default", qtype: dns.TypeAAAA, server: "127.0.0.1:5353", tcp: true}},
		{reverse: "10.96.0.20", want: digArgs{name: "20.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, search: true}},
		{args: []string{"a", "b"}, wantErr: "unexpected argument"},
		{args: []string{"+trace", "a"}, wantErr: "unknown option"},
		{args: nil, wantErr: "missing NAME"},
	}
	for _, tt := range tests {
		got, err := parseDigArgs(tt.args, tt.reverse)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v: %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

// toolsDNS serves web.default.svc.cluster.local (→ 127.0.0.1) on a loopback port.
func toolsDNS(t *testing.T) *stub.Resolver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg).SetReply(q)
		m.Authoritative = true
		name := q.Question[0].Name
		if name == "web.default.svc.cluster.local." && q.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(127, 0, 0, 1)})
		} else if name != "web.default.svc.cluster.local." {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return &stub.Resolver{Servers: []string{pc.LocalAddr().String()}, Ndots: 5,
		Search: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}}
}

func TestDigOutput(t *testing.T) {
	r := toolsDNS(t)
	var out bytes.Buffer
	if err := runDig(context.Background(), &out, r, digArgs{name: "web", qtype: dns.TypeA, search: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"status: NOERROR", "flags: qr aa rd", "ANSWER SECTION:", "web.default.svc.cluster.local.\t5\tIN\tA\t127.0.0.1", ";; SERVER: 127.0.0.1#"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := runDig(context.Background(), &out, r, digArgs{name: "web", qtype: dns.TypeA, search: true, short: true}); err != nil || out.String() != "127.0.0.1\n" {
		t.Errorf("+short: %q %v", out.String(), err)
	}
	out.Reset()
	if err := runDig(context.Background(), &out, r, digArgs{name: "nothing", qtype: dns.TypeA, search: true}); err != nil || !strings.Contains(out.String(), "status: NXDOMAIN") {
		t.Errorf("unknown name: %v\n%s", err, out.String())
	}
}

func TestCurlResolvesThroughSearchList(t *testing.T) {
	r := toolsDNS(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = w.Write([]byte("hello from " + req.Host))
	}))
	defer web.Close()
	_, port, _ := net.SplitHostPort(web.Listener.Addr().String())
	var out, errOut bytes.Buffer
	if err := runCurl(context.Background(), &out, &errOut, r, "http://web:"+port+"/", &curlFlags{verbose: true}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello from web:"+port || !strings.Contains(errOut.String(), "> GET / HTTP/1.1") || !strings.Contains(errOut.String(), "< HTTP/1.1 200 OK") {
		t.Errorf("body %q, verbose:\n%s", out.String(), errOut.String())
	}
	err := runCurl(context.Background(), &out, &errOut, r, "http://nothing/", &curlFlags{})
	var ce *curlExit
	if !errors.As(err, &ce) || ce.code != 6 {
		t.Errorf("unknown host: %v", err)
	}
}
