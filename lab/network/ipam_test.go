package network

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

func TestIPAM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.json")
	cidr := netip.MustParsePrefix("10.244.3.0/24")
	s, err := loadIPAM(path, cidr)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b", "c"} {
		ip, err := s.allocate(id)
		if want := addToAddr(cidr.Addr(), uint32(i+2)); err != nil || ip != want {
			t.Fatalf("allocate(%s) = %v, %v; want %s", id, ip, err, want)
		}
	}
	if ip, _ := s.allocate("b"); ip.String() != "10.244.3.3" {
		t.Errorf("allocate(b) again = %s, want its address 10.244.3.3", ip)
	}
	s.release("a")
	if ip, _ := s.allocate("d"); ip.String() != "10.244.3.2" {
		t.Errorf("allocate(d) after release(a) = %s, want the freed 10.244.3.2", ip)
	}
	if err := writeJSON(path, s); err != nil {
		t.Fatal(err)
	}
	again, err := loadIPAM(path, cidr)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(again.ids(), ","); got != "d,b,c" {
		t.Errorf("ids after reload = %s, want d,b,c", got)
	}
	if _, err := loadIPAM(path, netip.MustParsePrefix("10.244.4.0/24")); err == nil ||
		!strings.Contains(err.Error(), "is for podCIDR 10.244.3.0/24, not 10.244.4.0/24") {
		t.Errorf("loadIPAM with another CIDR: %v", err)
	}
	for i := 0; i < 250; i++ {
		if _, err := again.allocate("x" + string(rune('a'+i/26)) + string(rune('a'+i%26))); err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
	}
	if _, err := again.allocate("full"); err == nil || err.Error() != "no free pod address in 10.244.3.0/24 (253 in use)" {
		t.Errorf("allocate on a full /24: %v", err)
	}
	for _, ip := range again.Pods {
		if ip.String() == "10.244.3.0" || ip.String() == "10.244.3.1" || ip.String() == "10.244.3.255" {
			t.Errorf("allocated reserved address %s", ip)
		}
	}
}
