package cloud

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
)

// Allocation errors, checked with errors.Is.
var (
	// ErrPoolExhausted means every usable address of the pool is in use.
	ErrPoolExhausted = errors.New("no free address in the LoadBalancer pool")
	// ErrOutsidePool means a requested address is not a usable address of the pool.
	ErrOutsidePool = errors.New("address is outside the LoadBalancer pool")
	// ErrTaken means a requested address belongs to another Service.
	ErrTaken = errors.New("address is already in use")
)

// pool hands out the usable addresses of an IPv4 prefix, each to one owner (a Service's
// namespace/name). The network address, the first host address (kept free, like a subnet's
// gateway in a cloud) and the broadcast address are never handed out.
type pool struct {
	prefix netip.Prefix
	owner  map[netip.Addr]string
	addr   map[string]netip.Addr
}

func newPool(prefix netip.Prefix) (*pool, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("LoadBalancer pool %s: must be an IPv4 range of /30 or larger (--lb-cidr)", prefix)
	}
	if prefix.Masked() != prefix {
		return nil, fmt.Errorf("LoadBalancer pool %s: not a network address (did you mean %s?)", prefix, prefix.Masked())
	}
	return &pool{prefix: prefix, owner: map[netip.Addr]string{}, addr: map[string]netip.Addr{}}, nil
}

// first and last are the lowest and highest addresses handed out.
func (p *pool) first() netip.Addr { return p.prefix.Addr().Next().Next() }
func (p *pool) last() netip.Addr {
	b := p.prefix.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << (32 - p.prefix.Bits())) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).Prev()
}

// usable says whether a is an address the pool hands out.
func (p *pool) usable(a netip.Addr) bool {
	return a.Is4() && p.prefix.Contains(a) && a.Compare(p.first()) >= 0 && a.Compare(p.last()) <= 0
}

// lookup returns owner's address.
func (p *pool) lookup(owner string) (netip.Addr, bool) {
	a, ok := p.addr[owner]
	return a, ok
}

// claim gives a to owner, releasing owner's previous address.
func (p *pool) claim(owner string, a netip.Addr) error {
	if !p.usable(a) {
		return fmt.Errorf("%s: %w %s (network, first and broadcast addresses excluded)", a, ErrOutsidePool, p.prefix)
	}
	if o, ok := p.owner[a]; ok && o != owner {
		return fmt.Errorf("%s: %w by Service %s", a, ErrTaken, o)
	}
	p.release(owner)
	p.owner[a] = owner
	p.addr[owner] = a
	return nil
}

// allocate returns owner's address, or gives it the lowest free one.
func (p *pool) allocate(owner string) (netip.Addr, error) {
	if a, ok := p.addr[owner]; ok {
		return a, nil
	}
	for a := p.first(); a.Compare(p.last()) <= 0; a = a.Next() {
		if _, used := p.owner[a]; !used {
			p.owner[a] = owner
			p.addr[owner] = a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w %s (%d addresses in use): delete a LoadBalancer Service or use a larger --lb-cidr", ErrPoolExhausted, p.prefix, len(p.owner))
}

// release frees owner's address, if it has one.
func (p *pool) release(owner string) (netip.Addr, bool) {
	a, ok := p.addr[owner]
	if ok {
		delete(p.addr, owner)
		delete(p.owner, a)
	}
	return a, ok
}

// owners lists the owners with an address, sorted.
func (p *pool) owners() []string {
	out := make([]string, 0, len(p.addr))
	for o := range p.addr {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}
