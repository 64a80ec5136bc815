package dnstest

import (
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// Recorder is a dns.ResponseWriter that keeps the message written, after a round trip
// through the wire format so truncation and compression behave as on a socket.
type Recorder struct {
	Remote net.Addr // default: a UDP client at 10.244.1.100
	Msg    *dns.Msg
	Len    int // bytes on the wire
}

var _ dns.ResponseWriter = (*Recorder)(nil)

// NewRecorder returns a recorder for a UDP client.
func NewRecorder() *Recorder {
	return &Recorder{Remote: &net.UDPAddr{IP: net.IPv4(10, 244, 1, 100), Port: 40000}}
}

// NewTCPRecorder returns a recorder for a TCP client.
func NewTCPRecorder() *Recorder {
	return &Recorder{Remote: &net.TCPAddr{IP: net.IPv4(10, 244, 1, 100), Port: 40000}}
}

// LocalAddr is the server's address.
func (r *Recorder) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(10, 244, 0, 2), Port: 53} }

// RemoteAddr is the client's address.
func (r *Recorder) RemoteAddr() net.Addr { return r.Remote }

// WriteMsg packs m and records it unpacked.
func (r *Recorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = r.Write(b)
	return err
}

// Write records a packed message.
func (r *Recorder) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	r.Msg, r.Len = m, len(b)
	return len(b), nil
}

// Close does nothing.
func (r *Recorder) Close() error { return nil }

// TsigStatus reports no TSIG error.
func (r *Recorder) TsigStatus() error { return nil }

// TsigTimersOnly does nothing.
func (r *Recorder) TsigTimersOnly(bool) {}

// Hijack does nothing.
func (r *Recorder) Hijack() {}

// Format renders a response as stable text: status and flags, then the sections, one
// record a line with tabs replaced by spaces.
func Format(m *dns.Msg) string {
	var b strings.Builder
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionDesired, "rd"}, {m.RecursionAvailable, "ra"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	fmt.Fprintf(&b, "status: %s, flags: %s\n", dns.RcodeToString[m.Rcode], strings.Join(flags, " "))
	for _, s := range []struct {
		name string
		rrs  []dns.RR
	}{{"ANSWER", m.Answer}, {"AUTHORITY", m.Ns}, {"ADDITIONAL", m.Extra}} {
		var rrs []string
		for _, rr := range s.rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rrs = append(rrs, strings.Join(strings.Fields(rr.String()), " "))
		}
		if len(rrs) > 0 {
			fmt.Fprintf(&b, "%s:\n  %s\n", s.name, strings.Join(rrs, "\n  "))
		}
	}
	return b.String()
}
