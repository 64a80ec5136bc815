package stub

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const podResolvConf = `nameserver 10.96.0.10
search default.svc.cluster.local svc.cluster.local cluster.local
options ndots:5
`

func TestNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(podResolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Servers, ",") != "10.96.0.10:53" || r.Ndots != 5 {
		t.Fatalf("loaded %+v", r)
	}
	tests := []struct {
		name  string
		ndots int
		want  string
	}{
		{"web", 5, "web.default.svc.cluster.local. web.svc.cluster.local. web.cluster.local. web."},
		{"web.default", 5, "web.default.default.svc.cluster.local. web.default.svc.cluster.local. web.default.cluster.local. web.default."},
		{"web.default.svc.cluster.local", 5, "web.default.svc.cluster.local.default.svc.cluster.local. web.default.svc.cluster.local.svc.cluster.local. web.default.svc.cluster.local.cluster.local. web.default.svc.cluster.local."},
		{"web.default.svc.cluster.local.", 5, "web.default.svc.cluster.local."},
		{"example.com", 1, "example.com. example.com.default.svc.cluster.local. example.com.svc.cluster.local. example.com.cluster.local."},
		{"web", 1, "web.default.svc.cluster.local. web.svc.cluster.local. web.cluster.local. web."},
	}
	for _, tt := range tests {
		r.Ndots = tt.ndots
		if got := strings.Join(r.Names(tt.name), " "); got != tt.want {
			t.Errorf("ndots:%d %s:\n got %s\nwant %s", tt.ndots, tt.name, got, tt.want)
		}
	}
}

// TestQuerySearchList runs the search list against a loopback server that knows only
// web.default.svc.cluster.local and www.example.
func TestQuerySearchList(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg).SetReply(q)
		name := q.Question[0].Name
		asked = append(asked, name)
		switch name {
		case "web.default.svc.cluster.local.", "www.example.":
			if q.Question[0].Qtype != dns.TypeA {
				break // NODATA
			}
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(10, 96, 0, 20)})
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	defer func() { _ = srv.Shutdown() }()
	r := &Resolver{Servers: []string{pc.LocalAddr().String()}, Ndots: 5,
		Search: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}}
	for _, tt := range []struct{ name, wantAnswer, wantAsked string }{
		{"web", "web.default.svc.cluster.local.", "web.default.svc.cluster.local."},
		{"web.default", "web.default.svc.cluster.local.", "web.default.default.svc.cluster.local. web.default.svc.cluster.local."},
		{"www.example", "www.example.", "www.example.default.svc.cluster.local. www.example.svc.cluster.local. www.example.cluster.local. www.example."},
		{"nothing", "nothing.", "nothing.default.svc.cluster.local. nothing.svc.cluster.local. nothing.cluster.local. nothing."},
	} {
		asked = nil
		a, err := r.Query(context.Background(), tt.name, dns.TypeA, true)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != tt.wantAnswer || strings.Join(asked, " ") != tt.wantAsked {
			t.Errorf("%s: answered by %s after %v", tt.name, a.Name, asked)
		}
	}
	// A name that exists without records of the type asked (NODATA) is the answer, not
	// the NXDOMAIN of the candidates after it: a CNAME query for a Service name.
	asked = nil
	a, err := r.Query(context.Background(), "web", dns.TypeCNAME, true)
	if err != nil || a.Name != "web.default.svc.cluster.local." || a.Msg.Rcode != dns.RcodeSuccess || len(a.Msg.Answer) != 0 {
		t.Errorf("CNAME web: %v, %+v", err, a)
	}
	addrs, err := r.LookupHost(context.Background(), "web")
	if err != nil || len(addrs) != 1 || addrs[0].String() != "10.96.0.20" {
		t.Errorf("LookupHost(web) = %v, %v", addrs, err)
	}
	if _, err := r.LookupHost(context.Background(), "nothing"); err == nil {
		t.Error("LookupHost(nothing) found something")
	}
}
