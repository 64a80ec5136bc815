package nftables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
)

// ErrUnsupported is returned by NewKernel when the node cannot run the nftables mode.
var ErrUnsupported = errors.New("nftables mode is not supported on this node")

// Proxier renders proxy.State into the `ip kube-proxy` nftables table, like upstream
// kube-proxy's nftables proxier.
type Proxier struct {
	cfg proxy.Config
	nft knftables.Interface
	// nft6 is the ip6 twin of nft, only used by Cleanup (nil in tests).
	nft6     knftables.Interface
	log      *slog.Logger
	masqMark string
	// localCIDR is the cluster CIDR as nft text ("" when unknown): traffic from outside
	// it to a ClusterIP is masqueraded.
	localCIDR string
	// nodePortIPs are the addresses NodePorts answer on; nil means every local address.
	nodePortIPs []netip.Addr

	mu sync.Mutex
	// needFull forces the next sync to rewrite everything (first sync, after a failure).
	needFull bool
	// flushed is set once the base chains have been recreated by this process.
	flushed bool
	// chains and affinitySets are the per-Service objects in the kernel after the last
	// successful sync.
	chains       sets.Set[string]
	affinitySets sets.Set[string]

	clusterIPs, serviceIPs, firewallIPs     *elementStorage
	noEndpointServices, noEndpointNodePorts *elementStorage
	serviceNodePorts                        *elementStorage
}

var _ proxy.Proxier = (*Proxier)(nil)

// New returns a Proxier that programs nft, which must be bound to family ip and table
// TableName (knftables.NewFake(knftables.IPv4Family, TableName) in tests).
func New(cfg proxy.Config, nft knftables.Interface, log *slog.Logger) (*Proxier, error) {
	if nft == nil {
		return nil, errors.New("new nftables proxier: no knftables interface")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxier{
		cfg:                 cfg,
		nft:                 nft,
		log:                 log.With("mode", "nftables"),
		masqMark:            cfg.MasqueradeMark(),
		needFull:            true,
		chains:              sets.New[string](),
		affinitySets:        sets.New[string](),
		clusterIPs:          newElementStorage(true, clusterIPsSet),
		serviceIPs:          newElementStorage(false, serviceIPsMap),
		firewallIPs:         newElementStorage(false, firewallIPsMap),
		noEndpointServices:  newElementStorage(false, noEndpointServicesMap),
		noEndpointNodePorts: newElementStorage(false, noEndpointNodePortsMap),
		serviceNodePorts:    newElementStorage(false, serviceNodePortsMap),
	}
	if cfg.ClusterCIDR.IsValid() {
		if !cfg.ClusterCIDR.Addr().Is4() {
			return nil, fmt.Errorf("new nftables proxier: cluster CIDR %s is not IPv4 (svclab's lab is IPv4-only)", cfg.ClusterCIDR)
		}
		p.localCIDR = cfg.ClusterCIDR.Masked().String()
	}
	if len(cfg.NodePortAddresses) > 0 {
		p.nodePortIPs = []netip.Addr{}
		for _, ip := range cfg.NodeIPs {
			for _, prefix := range cfg.NodePortAddresses {
				if prefix.Contains(ip) && ip.Is4() && !ip.IsLoopback() {
					p.nodePortIPs = append(p.nodePortIPs, ip)
					break
				}
			}
		}
	}
	return p, nil
}

// NewKernel returns a Proxier programming this node's kernel through the nft tool. It
// fails with ErrUnsupported, and a message naming the fix, when the tool or the kernel's
// nf_tables support is missing.
func NewKernel(cfg proxy.Config, log *slog.Logger) (*Proxier, error) {
	nft, err := knftables.New(knftables.IPv4Family, TableName)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (install the nft tool v1.0.1 or later, e.g. `apt-get install nftables`, "+
			"and load the kernel module with `modprobe nf_tables`; or use --proxy-mode=iptables)", ErrUnsupported, err)
	}
	p, err := New(cfg, nft, log)
	if err != nil {
		return nil, err
	}
	// Upstream may have left an ip6 table from a dual-stack run; Cleanup removes it too.
	p.nft6, _ = knftables.New(knftables.IPv6Family, TableName)
	return p, nil
}

// CleanupLeftovers deletes the kube-proxy tables (ip and ip6) from this node's kernel
// without building a Proxier; a proxy starting in another mode calls it first. It does
// nothing when the nft tool is missing (there can be no table then).
func CleanupLeftovers(ctx context.Context) error {
	var errs []error
	for _, family := range []knftables.Family{knftables.IPv4Family, knftables.IPv6Family} {
		nft, err := knftables.New(family, TableName)
		if err != nil {
			continue
		}
		errs = append(errs, deleteTable(ctx, nft, family))
	}
	return errors.Join(errs...)
}

func deleteTable(ctx context.Context, nft knftables.Interface, family knftables.Family) error {
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("delete nftables table %s %s: %w", family, TableName, err)
	}
	return nil
}

func (p *Proxier) storages() []*elementStorage {
	return []*elementStorage{p.clusterIPs, p.serviceIPs, p.firewallIPs, p.noEndpointServices, p.noEndpointNodePorts, p.serviceNodePorts}
}

// Cleanup deletes the kube-proxy table of families ip and ip6, whoever created them
// (like `kube-proxy --cleanup`); a missing table is not an error.
func (p *Proxier) Cleanup(ctx context.Context) error {
	errs := []error{deleteTable(ctx, p.nft, knftables.IPv4Family)}
	if p.nft6 != nil {
		errs = append(errs, deleteTable(ctx, p.nft6, knftables.IPv6Family))
	}
	p.mu.Lock()
	p.needFull, p.flushed = true, false
	p.chains, p.affinitySets = sets.New[string](), sets.New[string]()
	p.mu.Unlock()
	return errors.Join(errs...)
}
