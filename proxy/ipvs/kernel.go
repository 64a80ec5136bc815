package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
)

// Handle is the subset of github.com/moby/ipvs's *Handle the proxier uses; *ipvs.Handle
// implements it, ipvstest.IPVS is its recording fake.
type Handle interface {
	GetServices() ([]*mobyipvs.Service, error)
	NewService(s *mobyipvs.Service) error
	UpdateService(s *mobyipvs.Service) error
	DelService(s *mobyipvs.Service) error
	GetDestinations(s *mobyipvs.Service) ([]*mobyipvs.Destination, error)
	NewDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error
	UpdateDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error
	DelDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error
	Flush() error
}

var _ Handle = (*mobyipvs.Handle)(nil)

// Netlink is what the proxier needs of rtnetlink: the kube-ipvs0 dummy device and its
// addresses, and the node's other local addresses (for NodePorts). Netlink (the type
// returned by NewNetlink) is the real one, ipvstest.Netlink the fake.
type Netlink interface {
	// EnsureDummyDevice creates the dummy device name unless it exists.
	EnsureDummyDevice(ctx context.Context, name string) error
	// DeleteDummyDevice removes the device; a missing device is not an error.
	DeleteDummyDevice(ctx context.Context, name string) error
	// Addresses lists the IPv4 addresses on dev (none when dev does not exist).
	Addresses(ctx context.Context, dev string) ([]netip.Addr, error)
	// AddAddress binds a (as a /32) to dev; an address already there is not an error.
	AddAddress(ctx context.Context, dev string, a netip.Addr) error
	// DelAddress removes a from dev; a missing address is not an error.
	DelAddress(ctx context.Context, dev string, a netip.Addr) error
	// LocalAddresses lists the IPv4 addresses of every device but exceptDev.
	LocalAddresses(ctx context.Context, exceptDev string) ([]netip.Addr, error)
}

// IPSet is the ipset touchpoint: `ipset restore -exist` and `ipset save`. IPSetExec is the
// real one, ipvstest.IPSet the fake.
type IPSet interface {
	// Restore feeds data (create/add/del/destroy lines) to `ipset restore -exist`.
	Restore(ctx context.Context, data []byte) error
	// Save returns `ipset save` (every set on the host).
	Save(ctx context.Context) ([]byte, error)
}

// ErrNoIPVS is returned (wrapped) when the kernel cannot do IP Virtual Server load
// balancing; check it with errors.Is.
var ErrNoIPVS = errors.New("the kernel has no IP Virtual Server support (CONFIG_IP_VS): run `modprobe ip_vs`, or use --proxy-mode=iptables or nftables")

// procIPVS exists in every network namespace once the ip_vs module is loaded.
var procIPVS = "/proc/net/ip_vs"

// CheckKernel reports whether the running kernel supports IPVS. It tries `modprobe ip_vs`
// when /proc/net/ip_vs is absent (as upstream kube-proxy does), then looks for the file and
// for the "IPVS" generic-netlink family. The error wraps ErrNoIPVS.
func CheckKernel() error {
	if hasIPVS() {
		return nil
	}
	detail := ""
	out, err := exec.Command("modprobe", "--", "ip_vs").CombinedOutput()
	if err != nil {
		detail = strings.TrimSpace(string(out))
		if detail == "" {
			detail = err.Error()
		}
	}
	if hasIPVS() {
		return nil
	}
	if detail != "" {
		return fmt.Errorf("%w (modprobe ip_vs: %s)", ErrNoIPVS, detail)
	}
	return ErrNoIPVS
}

func hasIPVS() bool {
	if _, err := os.Stat(procIPVS); err == nil {
		return true
	}
	// ip_vs built in but /proc hidden (e.g. a restricted container): ask generic netlink.
	fam, err := netlink.GenlFamilyGet("IPVS")
	return err == nil && fam != nil
}
