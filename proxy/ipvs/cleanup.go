package ipvs

import (
	"context"
	"errors"
	"log/slog"

	mobyipvs "github.com/moby/ipvs"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
)

// CleanupKernel removes everything the ipvs mode may have left in the caller's network
// namespace (`kube-proxy --cleanup`), also on a kernel without IPVS, where only the
// kube-ipvs0 device, the ipsets and the iptables chains can exist. A missing ipset tool
// means no sets can exist either, so that error is ignored.
func CleanupKernel(ctx context.Context, log *slog.Logger) error {
	var handle Handle = noIPVS{}
	if CheckKernel() == nil {
		h, err := mobyipvs.New("")
		if err != nil {
			return err
		}
		defer h.Close()
		handle = h
	}
	nl, err := NewNetlink(nil)
	if err != nil {
		return err
	}
	p, err := New(proxy.Config{}, Options{}, Handles{IPVS: handle, Netlink: nl, IPSet: &IPSetExec{}, IPTables: &ipt.Exec{}}, log)
	if err != nil {
		return err
	}
	return p.Cleanup(ctx)
}

// noIPVS is the Handle of a kernel without IPVS: there is nothing to list or flush.
type noIPVS struct{}

var errNoIPVSHandle = errors.New("no IPVS in this kernel")

func (noIPVS) GetServices() ([]*mobyipvs.Service, error) { return nil, nil }
func (noIPVS) NewService(*mobyipvs.Service) error        { return errNoIPVSHandle }
func (noIPVS) UpdateService(*mobyipvs.Service) error     { return errNoIPVSHandle }
func (noIPVS) DelService(*mobyipvs.Service) error        { return errNoIPVSHandle }
func (noIPVS) Flush() error                              { return nil }
func (noIPVS) NewDestination(*mobyipvs.Service, *mobyipvs.Destination) error {
	return errNoIPVSHandle
}
func (noIPVS) UpdateDestination(*mobyipvs.Service, *mobyipvs.Destination) error {
	return errNoIPVSHandle
}
func (noIPVS) DelDestination(*mobyipvs.Service, *mobyipvs.Destination) error {
	return errNoIPVSHandle
}
func (noIPVS) GetDestinations(*mobyipvs.Service) ([]*mobyipvs.Destination, error) {
	return nil, nil
}
