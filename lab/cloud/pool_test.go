package cloud

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPool(t *testing.T) {
	p, err := newPool(netip.MustParsePrefix("172.30.1.0/29"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.first().String() + "-" + p.last().String(); got != "172.30.1.2-172.30.1.6" {
		t.Errorf("usable range = %s, want 172.30.1.2-172.30.1.6", got)
	}
	for _, tc := range []struct {
		owner, want string
	}{{"ns/a", "172.30.1.2"}, {"ns/b", "172.30.1.3"}, {"ns/a", "172.30.1.2"}} {
		a, err := p.allocate(tc.owner)
		if err != nil || a.String() != tc.want {
			t.Errorf("allocate(%s) = %v, %v; want %s", tc.owner, a, err, tc.want)
		}
	}
	for _, tc := range []struct {
		addr string
		want error
	}{
		{"172.30.1.0", ErrOutsidePool}, {"172.30.1.1", ErrOutsidePool}, {"172.30.1.7", ErrOutsidePool},
		{"10.0.0.1", ErrOutsidePool}, {"172.30.1.3", ErrTaken},
	} {
		if err := p.claim("ns/c", netip.MustParseAddr(tc.addr)); !errors.Is(err, tc.want) {
			t.Errorf("claim(%s) = %v, want %v", tc.addr, err, tc.want)
		}
	}
	if err := p.claim("ns/c", netip.MustParseAddr("172.30.1.6")); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"ns/d", "ns/e"} {
		if _, err := p.allocate(o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.allocate("ns/f"); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("allocate on a full pool = %v, want ErrPoolExhausted", err)
	}
	if a, ok := p.release("ns/b"); !ok || a.String() != "172.30.1.3" {
		t.Errorf("release(ns/b) = %v, %v", a, ok)
	}
	if a, err := p.allocate("ns/f"); err != nil || a.String() != "172.30.1.3" {
		t.Errorf("allocate after release = %v, %v; want 172.30.1.3", a, err)
	}
}

func TestNewPoolRefuses(t *testing.T) {
	for _, s := range []string{"172.30.1.0/31", "172.30.1.1/24", "fd00::/64"} {
		if _, err := newPool(netip.MustParsePrefix(s)); err == nil {
			t.Errorf("newPool(%s): no error", s)
		}
	}
	if _, err := newPool(netip.Prefix{}); err == nil {
		t.Error("newPool(zero): no error")
	}
}
