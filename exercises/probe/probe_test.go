package probe

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/svclab/svclab/proxy/dns/stub"
)

func TestHTTPNamesThePodAndSendsEachRequestAnew(t *testing.T) {
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns[r.RemoteAddr] = true
		if r.Host != "app.example" || r.Header.Get("X-Test") != "1" {
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = w.Write([]byte("pod=web-1 ns=x\n"))
	}))
	defer srv.Close()
	res := Run(context.Background(), Env{}, Spec{Kind: "http", URL: srv.URL + "/", Host: "app.example", Headers: map[string]string{"X-Test": "1"}, Requests: 3})
	if len(res.Answers) != 3 {
		t.Fatalf("answers %+v", res.Answers)
	}
	for _, a := range res.Answers {
		if a.Err != "" || a.Status != 200 || a.Pod != "web-1" {
			t.Errorf("answer %+v", a)
		}
	}
	if len(conns) != 3 {
		t.Errorf("%d connections for 3 requests: each request must get its own load-balancing choice", len(conns))
	}
	if res := Run(context.Background(), Env{}, Spec{Kind: "http", URL: "http://127.0.0.1:1/", Timeout: time.Second}); res.Answers[0].Err == "" {
		t.Errorf("a refused connection gave no error: %+v", res.Answers)
	}
}

func TestTCPAndUDPEcho(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			_, _ = c.Write([]byte("pod=tcp-1 echo=" + line))
			c.Close()
		}
	}()
	res := Run(context.Background(), Env{}, Spec{Kind: "tcp", Address: ln.Addr().String(), Send: "hi\n", Requests: 2})
	if len(res.Answers) != 2 || res.Answers[0].Body != "pod=tcp-1 echo=hi\n" || res.Answers[1].Pod != "tcp-1" {
		t.Errorf("tcp: %+v", res.Answers)
	}

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 100)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("pod=udp-1 echo="), buf[:n]...), from)
		}
	}()
	res = Run(context.Background(), Env{}, Spec{Kind: "udp", Address: pc.LocalAddr().String(), Send: "hello"})
	if len(res.Answers) != 1 || res.Answers[0].Body != "pod=udp-1 echo=hello" {
		t.Errorf("udp: %+v", res.Answers)
	}
}

func TestDNSThroughTheResolverSearchList(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg).SetReply(q)
		if q.Question[0].Name == "web.ex.svc.cluster.local." {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(10, 96, 0, 12)})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	defer func() { _ = srv.Shutdown() }()
	env := Env{Resolver: &stub.Resolver{Servers: []string{pc.LocalAddr().String()}, Ndots: 5, Search: []string{"ex.svc.cluster.local"}}}
	res := Run(context.Background(), env, Spec{Kind: "dns", Name: "web"})
	if d := res.DNS; d == nil || d.Rcode != "NOERROR" || strings.Join(d.Records, ",") != "A 10.96.0.12" || d.Name != "web.ex.svc.cluster.local." {
		t.Errorf("dns web: %+v", res.DNS)
	}
	if res := Run(context.Background(), env, Spec{Kind: "dns", Name: "nothing"}); res.DNS == nil || res.DNS.Rcode != "NXDOMAIN" {
		t.Errorf("dns nothing: %+v", res.DNS)
	}
	if res := Run(context.Background(), Env{}, Spec{Kind: "dns", Name: "web"}); res.DNS == nil || !strings.Contains(res.DNS.Err, "no nameserver") {
		t.Errorf("dns without a resolver: %+v", res.DNS)
	}
}

func TestPodOf(t *testing.T) {
	for body, want := range map[string]string{
		"pod=web-1 ns=x ip=1.2.3.4": "web-1",
		"hello\npod=a\n":            "a",
		"mypod=x":                   "",
		"nothing":                   "",
	} {
		if got := PodOf(body); got != want {
			t.Errorf("PodOf(%q) = %q, want %q", body, got, want)
		}
	}
}
