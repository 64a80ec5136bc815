package network

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"
)

// DefaultLab is the lab name `svclab up` uses without --name; only it gets the bridge svclab0.
const DefaultLab = "svclab"

// PodGateway is the link-local next hop every pod's default route points at. No interface owns
// it: the node side of the pod's veth answers ARP for it with proxy_arp, as in Calico.
var PodGateway = netip.MustParseAddr("169.254.1.1")

// firstNodeHost is the host number of node 0 in the node network (.11, .12, ...).
const firstNodeHost = 11

// Plan is a lab's address plan. Every range maps to a `svclab up` flag (see Flag* constants).
type Plan struct {
	// Lab is the lab name; every namespace, link and route tag carries it.
	Lab string
	// Bridge is the host bridge of the node network (BridgeName(Lab) by default).
	Bridge string
	// NodeCIDR is the node network: the gateway (the bridge, in the host) is the first
	// address, node i gets host number 11+i (172.30.0.11, .12, ...).
	NodeCIDR netip.Prefix
	// PodCIDR is the cluster's pod range; node i gets the i-th /24 (10.244.i.0/24).
	PodCIDR netip.Prefix
	// ServiceCIDR is the ClusterIP range.
	ServiceCIDR netip.Prefix
	// LBCIDR is the lab cloud's LoadBalancer pool; the zero Prefix disables it.
	LBCIDR netip.Prefix
}

// Flags that set each range of a Plan, named in error messages.
const (
	FlagNodeCIDR    = "--node-cidr"
	FlagPodCIDR     = "--pod-network-cidr"
	FlagServiceCIDR = "--service-cluster-ip-range"
	FlagLBCIDR      = "--lb-cidr"
)

// DefaultPlan returns the DESIGN.md defaults for lab.
func DefaultPlan(lab string) Plan {
	return Plan{
		Lab:         lab,
		Bridge:      BridgeName(lab),
		NodeCIDR:    netip.MustParsePrefix("172.30.0.0/24"),
		PodCIDR:     netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12"),
		LBCIDR:      netip.MustParsePrefix("172.30.1.0/24"),
	}
}

var (
	labNameRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	ifaceNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

// ValidateLabName checks that lab can be used in namespace names and link aliases.
func ValidateLabName(lab string) error {
	if len(lab) > 63 || !labNameRE.MatchString(lab) {
		return fmt.Errorf("lab name %q: must be at most 63 lower case alphanumeric characters or '-', starting and ending with an alphanumeric character", lab)
	}
	return nil
}

// Validate checks the names and ranges and that no two ranges overlap. All problems are
// reported together, each naming the flag to change.
func (p Plan) Validate() error {
	var errs []error
	if err := ValidateLabName(p.Lab); err != nil {
		errs = append(errs, err)
	}
	if !ifaceNameRE.MatchString(p.Bridge) {
		errs = append(errs, fmt.Errorf("bridge name %q: must be 1-15 letters, digits, '.', '_' or '-'", p.Bridge))
	}
	type rng struct {
		flag     string
		prefix   netip.Prefix
		optional bool
		check    func(netip.Prefix) string
	}
	ranges := []rng{
		{FlagNodeCIDR, p.NodeCIDR, false, func(q netip.Prefix) string {
			if q.Bits() > 28 {
				return "too small: it needs the gateway and nodes from host number 11 on (use a /28 or larger)"
			}
			return ""
		}},
		{FlagPodCIDR, p.PodCIDR, false, func(q netip.Prefix) string {
			if q.Bits() > 24 {
				return "too small: each node gets a /24 (use a /24 or larger)"
			}
			return ""
		}},
		{FlagServiceCIDR, p.ServiceCIDR, false, func(q netip.Prefix) string {
			switch {
			case q.Bits() < 12:
				return "too large: for 32-bit addresses, the mask must be >= 12"
			case q.Bits() > 30:
				return "too small: use a /30 or larger"
			}
			return ""
		}},
		{FlagLBCIDR, p.LBCIDR, true, func(q netip.Prefix) string {
			if q.Bits() > 30 {
				return "too small: use a /30 or larger"
			}
			return ""
		}},
	}
	var good []rng
	for _, r := range ranges {
		switch {
		case !r.prefix.IsValid():
			if !r.optional {
				errs = append(errs, fmt.Errorf("%s: required", r.flag))
			}
			continue
		case !r.prefix.Addr().Is4():
			errs = append(errs, fmt.Errorf("%s=%s: must be an IPv4 range", r.flag, r.prefix))
			continue
		case r.prefix.Masked() != r.prefix:
			errs = append(errs, fmt.Errorf("%s=%s: not a network address (did you mean %s?)", r.flag, r.prefix, r.prefix.Masked()))
			continue
		}
		if msg := r.check(r.prefix); msg != "" {
			errs = append(errs, fmt.Errorf("%s=%s: %s", r.flag, r.prefix, msg))
			continue
		}
		good = append(good, r)
	}
	for i := range good {
		for j := i + 1; j < len(good); j++ {
			if good[i].prefix.Overlaps(good[j].prefix) {
				errs = append(errs, fmt.Errorf("%s=%s overlaps %s=%s: change one of them", good[i].flag, good[i].prefix, good[j].flag, good[j].prefix))
			}
		}
	}
	return errors.Join(errs...)
}

// ranges lists the plan's ranges (the zero Prefix for an unset LBCIDR).
func (p Plan) ranges() []netip.Prefix {
	return []netip.Prefix{p.NodeCIDR, p.PodCIDR, p.ServiceCIDR, p.LBCIDR}
}

// Gateway is the host's address on the node network (the bridge's address).
func (p Plan) Gateway() netip.Addr { return p.NodeCIDR.Addr().Next() }

// MaxNodes is how many nodes fit both the node network and the pod range.
func (p Plan) MaxNodes() int {
	byNodeNet := (1 << (32 - p.NodeCIDR.Bits())) - firstNodeHost - 1 // keep the broadcast address
	byPodNet := 1 << (24 - p.PodCIDR.Bits())
	return max(0, min(byNodeNet, byPodNet))
}

// NodeIP is node index's address on the node network (index 0 is .11).
func (p Plan) NodeIP(index int) (netip.Addr, error) {
	if index < 0 || index >= p.MaxNodes() {
		return netip.Addr{}, fmt.Errorf("node index %d: out of range: the plan has room for %d nodes", index, p.MaxNodes())
	}
	return addToAddr(p.NodeCIDR.Addr(), uint32(firstNodeHost+index)), nil
}

// NodePodCIDR is node index's pod /24 (index i gets the i-th /24 of PodCIDR).
func (p Plan) NodePodCIDR(index int) (netip.Prefix, error) {
	if index < 0 || index >= p.MaxNodes() {
		return netip.Prefix{}, fmt.Errorf("node index %d: out of range: the plan has room for %d nodes", index, p.MaxNodes())
	}
	return netip.PrefixFrom(addToAddr(p.PodCIDR.Addr(), uint32(index)<<8), 24), nil
}

func addToAddr(a netip.Addr, n uint32) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func labHash(lab string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(lab))
	return h.Sum32()
}

// BridgeName is the host bridge of lab: svclab0 for DefaultLab, svclab-<8 hex> otherwise.
func BridgeName(lab string) string {
	if lab == DefaultLab {
		return "svclab0"
	}
	return fmt.Sprintf("svclab-%08x", labHash(lab))
}

// NodeNetNS is the network namespace name of a node: svclab-<lab>-<node>.
func NodeNetNS(lab, node string) string { return "svclab-" + lab + "-" + node }

// PodNetNS is the network namespace name of a pod: svclab-<lab>-p-<id>.
func PodNetNS(lab, id string) string { return "svclab-" + lab + "-p-" + id }

// hostVethName is the host end of node index's veth: svl<6 hex of the lab>n<index>.
func hostVethName(lab string, index int) string {
	return fmt.Sprintf("svl%06xn%d", labHash(lab)&0xffffff, index)
}

// podVethName is the node end of a pod's veth: svl<id> (in the node namespace).
func podVethName(id string) string { return "svl" + id }

// labRealm is the route realm svclab stamps on the lab's host routes, so Teardown tells
// this lab's routes from another lab's (both carry ProtoSvclab).
func labRealm(lab string) int { return 1 + int(labHash(lab)%65534) }

func aliasPrefix(lab string) string     { return "svclab:" + lab + ":" }
func bridgeAlias(lab string) string     { return aliasPrefix(lab) + "bridge" }
func nodeAlias(lab, node string) string { return aliasPrefix(lab) + "node:" + node }
func podAlias(lab, id string) string    { return aliasPrefix(lab) + "pod:" + id }

var podIDRE = regexp.MustCompile(`^[a-z0-9]{1,12}$`)

// validatePodID keeps the node-side veth name (svl<id>) within Linux's 15 characters.
func validatePodID(id string) error {
	if !podIDRE.MatchString(id) {
		return fmt.Errorf("pod id %q: must be 1-12 lower case letters or digits (e.g. 10 hex characters of the pod UID)", id)
	}
	return nil
}

// validateNodeName keeps node namespace names apart from pod ones (svclab-<lab>-p-<id>).
func validateNodeName(name string) error {
	if err := ValidateLabName(name); err != nil || (len(name) > 1 && name[:2] == "p-") {
		return fmt.Errorf("node name %q: must be a DNS label not starting with \"p-\"", name)
	}
	return nil
}
