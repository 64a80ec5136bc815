package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// syncIPVS binds the plan's addresses and makes the IPVS table match it: virtual servers
// created, updated or deleted, real servers added, re-weighted or removed.
func (p *Proxier) syncIPVS(ctx context.Context, pl *plan, bound []netip.Addr) error {
	for _, a := range pl.bind {
		if !slices.Contains(bound, a) {
			if err := p.h.Netlink.AddAddress(ctx, DummyDevice, a); err != nil {
				return err
			}
		}
	}
	current, err := p.h.IPVS.GetServices()
	if err != nil {
		return fmt.Errorf("list IPVS virtual servers: %w", err)
	}
	have := map[string]*mobyipvs.Service{}
	for _, s := range current {
		have[serviceKey(s)] = s
	}
	for _, key := range pl.order {
		vs := pl.servers[key]
		applied := have[key]
		switch {
		case applied == nil:
			if err := p.h.IPVS.NewService(vs.svc); err != nil {
				return fmt.Errorf("add IPVS virtual server %s for %s: %w", key, vs.portName, err)
			}
		case !sameService(applied, vs.svc):
			if err := p.h.IPVS.UpdateService(vs.svc); err != nil {
				return fmt.Errorf("update IPVS virtual server %s for %s: %w", key, vs.portName, err)
			}
		}
		if err := p.syncDestinations(key, vs); err != nil {
			return err
		}
	}
	for key, s := range have {
		if _, ok := pl.servers[key]; ok {
			continue
		}
		if err := p.h.IPVS.DelService(s); err != nil {
			return fmt.Errorf("delete IPVS virtual server %s: %w", key, err)
		}
	}
	return nil
}

func sameService(applied, want *mobyipvs.Service) bool {
	return applied.SchedName == want.SchedName &&
		applied.Flags&^flagHashed == want.Flags &&
		applied.Timeout == want.Timeout
}

func destKey(d *mobyipvs.Destination) netip.AddrPort {
	a, _ := netip.AddrFromSlice(d.Address)
	return netip.AddrPortFrom(a.Unmap(), d.Port)
}

// syncDestinations makes the real servers of one virtual server match vs.dests. A real
// server that goes away while it still has TCP connections is quiesced first (weight 0,
// no new connections) and deleted by a later sync once they are gone, like upstream's
// graceful termination; UDP ones go at once.
func (p *Proxier) syncDestinations(key string, vs *virtualServer) error {
	current, err := p.h.IPVS.GetDestinations(vs.svc)
	if err != nil {
		return fmt.Errorf("list real servers of %s: %w", key, err)
	}
	have := map[netip.AddrPort]*mobyipvs.Destination{}
	for _, d := range current {
		have[destKey(d)] = d
	}
	for _, ep := range vs.dests {
		d := &mobyipvs.Destination{
			Address:         ep.Addr().AsSlice(),
			Port:            ep.Port(),
			Weight:          1,
			ConnectionFlags: mobyipvs.ConnectionFlagMasq,
			AddressFamily:   unix.AF_INET,
		}
		if old, ok := have[ep]; ok {
			if old.Weight != d.Weight {
				if err := p.h.IPVS.UpdateDestination(vs.svc, d); err != nil {
					return fmt.Errorf("update real server %s of %s: %w", ep, key, err)
				}
			}
			continue
		}
		if err := p.h.IPVS.NewDestination(vs.svc, d); err != nil {
			return fmt.Errorf("add real server %s to %s: %w", ep, key, err)
		}
	}
	for ep, d := range have {
		if slices.Contains(vs.dests, ep) {
			continue
		}
		if vs.svc.Protocol == unix.IPPROTO_TCP && d.ActiveConnections+d.InactiveConnections > 0 {
			if d.Weight != 0 {
				q := *d
				q.Weight = 0
				if err := p.h.IPVS.UpdateDestination(vs.svc, &q); err != nil {
					return fmt.Errorf("quiesce real server %s of %s: %w", ep, key, err)
				}
			}
			continue
		}
		if err := p.h.IPVS.DelDestination(vs.svc, d); err != nil {
			return fmt.Errorf("delete real server %s of %s: %w", ep, key, err)
		}
	}
	return nil
}
