package network

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
)

// ErrOverlap is wrapped by CheckHostOverlap's errors.
var ErrOverlap = errors.New("range overlaps a host route")

// HostRoute is a route found on the host, with the text used to name it in messages.
type HostRoute struct {
	Dst  netip.Prefix
	Desc string // e.g. "10.244.0.0/16 dev cni0 proto kernel scope link"
}

// OverlapError says which lab range overlaps which host route, and the flag that changes it.
type OverlapError struct {
	What  string // "pod network", ...
	Flag  string // FlagPodCIDR, ...
	Range netip.Prefix
	Route HostRoute
}

func (e *OverlapError) Error() string {
	return fmt.Sprintf("%s %s overlaps the host route %q: choose another range with %s", e.What, e.Range, e.Route.Desc, e.Flag)
}

// Is makes errors.Is(err, ErrOverlap) true.
func (e *OverlapError) Is(target error) bool { return target == ErrOverlap }

// CheckHostOverlap refuses a plan whose ranges overlap a route already on the host. Default
// routes are ignored (every range "overlaps" them). For each range the first overlapping
// route is named; all ranges are checked and the errors joined.
func CheckHostOverlap(p Plan, routes []HostRoute) error {
	ranges := []struct {
		what, flag string
		prefix     netip.Prefix
	}{
		{"node network", FlagNodeCIDR, p.NodeCIDR},
		{"pod network", FlagPodCIDR, p.PodCIDR},
		{"service network", FlagServiceCIDR, p.ServiceCIDR},
		{"load-balancer pool", FlagLBCIDR, p.LBCIDR},
	}
	var errs []error
	for _, r := range ranges {
		if !r.prefix.IsValid() {
			continue
		}
		for _, hr := range routes {
			if !hr.Dst.IsValid() || hr.Dst.Bits() == 0 || !hr.Dst.Overlaps(r.prefix) {
				continue
			}
			errs = append(errs, &OverlapError{What: r.what, Flag: r.flag, Range: r.prefix, Route: hr})
			break
		}
	}
	return errors.Join(errs...)
}

// HostRoutes reads the IPv4 routes of every table of the host namespace, main table first,
// leaving out what svclab made for p.Lab: routes on its bridge, and ProtoSvclab routes
// carrying the lab's realm. Another lab's routes do count.
func HostRoutes(k Kernel, p Plan) ([]HostRoute, error) {
	routes, err := k.Routes("")
	if err != nil {
		return nil, fmt.Errorf("read host routes: %w", err)
	}
	realm := labRealm(p.Lab)
	isMain := func(r Route) bool { return r.Table == 0 || r.Table == TableMain }
	sort.SliceStable(routes, func(i, j int) bool { return isMain(routes[i]) && !isMain(routes[j]) })
	var out []HostRoute
	for _, r := range routes {
		if r.Dev == p.Bridge || (r.Protocol == ProtoSvclab && r.Realm == realm) {
			continue
		}
		if !r.Dst.IsValid() || r.Dst.Bits() == 0 {
			continue
		}
		out = append(out, HostRoute{Dst: r.Dst, Desc: r.String()})
	}
	return out, nil
}
