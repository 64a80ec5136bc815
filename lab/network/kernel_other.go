//go:build !linux

package network

import (
	"errors"
	"net/netip"
)

var errNotLinux = errors.New("svclab's lab network needs Linux network namespaces")

type otherKernel struct{}

// NewKernel returns a Kernel that fails every call: lab networks need Linux.
func NewKernel(stateRoot string) Kernel { return otherKernel{} }

func (otherKernel) CreateNetNS(string) error                             { return errNotLinux }
func (otherKernel) DeleteNetNS(string) error                             { return errNotLinux }
func (otherKernel) NetNSNames() ([]string, error)                        { return nil, errNotLinux }
func (otherKernel) AddBridge(string, string, string) error               { return errNotLinux }
func (otherKernel) AddVeth(string, string, string, string, string) error { return errNotLinux }
func (otherKernel) SetMaster(string, string, string) error               { return errNotLinux }
func (otherKernel) SetUp(string, string) error                           { return errNotLinux }
func (otherKernel) DeleteLink(string, string) error                      { return errNotLinux }
func (otherKernel) Links(string) ([]Link, error)                         { return nil, errNotLinux }
func (otherKernel) AddAddr(string, string, netip.Prefix) error           { return errNotLinux }
func (otherKernel) AddRoute(string, Route) error                         { return errNotLinux }
func (otherKernel) DeleteRoute(string, Route) error                      { return errNotLinux }
func (otherKernel) Routes(string) ([]Route, error)                       { return nil, errNotLinux }
func (otherKernel) SetSysctl(string, string, string) error               { return errNotLinux }
