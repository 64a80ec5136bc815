package dns

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL of cluster answers, CoreDNS's kubernetes plugin default.
const DefaultTTL = 5

// Forwarder sends a query that is not for the cluster to the upstream resolvers.
type Forwarder interface {
	Forward(ctx context.Context, r *dns.Msg) (*dns.Msg, error)
}

// Handler answers DNS queries: the cluster zone (and the reverse names of Service and
// endpoint addresses) from the Index, everything else through the Forwarder.
type Handler struct {
	Index     *Index
	Zone      string // fully qualified, lower-case: "cluster.local."
	TTL       uint32
	Forwarder Forwarder // nil: other names get SERVFAIL
	Metrics   *Metrics  // optional
	Server    string    // the metrics' server label, "dns://:53"
	Log       *slog.Logger
}

// NewHandler returns a handler for the cluster domain (e.g. "cluster.local") with
// CoreDNS's defaults.
func NewHandler(idx *Index, clusterDomain string, fwd Forwarder, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		Index: idx, Zone: dns.Fqdn(strings.ToLower(clusterDomain)), TTL: DefaultTTL,
		Forwarder: fwd, Server: "dns://:53", Log: log,
	}
}

// ServeDNS answers r on w and returns the response code (CoreDNS's plugin shape). Answers
// larger than the client's UDP size (512, or its EDNS0 size) are truncated with the TC bit
// so the client retries over TCP.
func (h *Handler) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	start := time.Now()
	var m *dns.Msg
	zone, plugin := ".", ""
	switch {
	case r.Opcode != dns.OpcodeQuery:
		m = new(dns.Msg).SetRcode(r, dns.RcodeNotImplemented)
	case len(r.Question) != 1:
		m = new(dns.Msg).SetRcode(r, dns.RcodeFormatError)
	default:
		m, plugin = h.answer(ctx, r)
		if plugin == "kubernetes" {
			zone = h.Zone
		}
	}
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		if m.IsEdns0() == nil {
			m.SetEdns0(uint16(size), opt.Do())
		}
	}
	proto := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		proto, size = "tcp", dns.MaxMsgSize
	}
	m.Truncate(size)
	err := w.WriteMsg(m)
	if h.Metrics != nil {
		h.Metrics.observe(h.Server, zone, proto, w.RemoteAddr(), r, m, plugin, time.Since(start))
	}
	return m.Rcode, err
}

// answer builds the response; plugin says who answered ("kubernetes" or "forward"), as
// CoreDNS's responses metric does.
func (h *Handler) answer(ctx context.Context, r *dns.Msg) (*dns.Msg, string) {
	q := r.Question[0]
	lname := strings.ToLower(q.Name)
	if dns.IsSubDomain(h.Zone, lname) {
		return h.cluster(ctx, r), "kubernetes"
	}
	if q.Qtype == dns.TypePTR {
		if m := h.ptr(r); m != nil {
			return m, "kubernetes"
		}
	}
	return h.forward(ctx, r), "forward"
}

func (h *Handler) forward(ctx context.Context, r *dns.Msg) *dns.Msg {
	if h.Forwarder == nil {
		return new(dns.Msg).SetRcode(r, dns.RcodeServerFailure)
	}
	resp, err := h.Forwarder.Forward(ctx, r)
	if err != nil {
		h.Log.Debug("Forwarding failed", "name", r.Question[0].Name, "err", err)
		return new(dns.Msg).SetRcode(r, dns.RcodeServerFailure)
	}
	resp.Id = r.Id
	return resp
}

// ServeDNSFunc adapts h to miekg/dns's Handler for a dns.Server.
func (h *Handler) ServeDNSFunc(ctx context.Context) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { _, _ = h.ServeDNS(ctx, w, r) })
}
