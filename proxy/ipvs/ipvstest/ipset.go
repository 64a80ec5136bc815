package ipvstest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// IPSet is a fake of ipvs.IPSet: it records each restore payload and applies it with
// `ipset restore -exist` semantics (create/add/del/flush/destroy).
type IPSet struct {
	mu sync.Mutex
	// Restores holds every non-empty Restore payload in order.
	Restores []string
	sets     map[string]*set
}

type set struct {
	create  string // the create line's arguments after the name
	members []string
}

// NewIPSet returns a host without sets.
func NewIPSet() *IPSet { return &IPSet{sets: map[string]*set{}} }

// Restore implements ipvs.IPSet.
func (f *IPSet) Restore(_ context.Context, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.TrimSpace(string(data)) == "" {
		return nil
	}
	f.Restores = append(f.Restores, string(data))
	for i, line := range strings.Split(string(data), "\n") {
		fl := strings.Fields(line)
		if len(fl) == 0 {
			continue
		}
		if len(fl) < 2 {
			return fmt.Errorf("ipset v7: Error in line %d: missing set name", i+1)
		}
		name := fl[1]
		s := f.sets[name]
		if fl[0] != "create" && s == nil {
			return fmt.Errorf("ipset v7: Error in line %d: The set with the given name does not exist", i+1)
		}
		switch fl[0] {
		case "create":
			if s == nil {
				f.sets[name] = &set{create: strings.Join(fl[2:], " ")}
			}
		case "add", "del":
			if len(fl) < 3 {
				return fmt.Errorf("ipset v7: Error in line %d: missing entry", i+1)
			}
			idx := slices.Index(s.members, fl[2])
			if fl[0] == "add" && idx < 0 {
				s.members = append(s.members, fl[2])
			} else if fl[0] == "del" && idx >= 0 {
				s.members = slices.Delete(s.members, idx, idx+1)
			}
		case "flush":
			s.members = nil
		case "destroy":
			delete(f.sets, name)
		default:
			return fmt.Errorf("ipset v7: Error in line %d: unknown command %s", i+1, fl[0])
		}
	}
	return nil
}

// Save implements ipvs.IPSet, in `ipset save` format, sets and members sorted.
func (f *IPSet) Save(_ context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.sets))
	for n := range f.sets {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		s := f.sets[n]
		fmt.Fprintf(&b, "create %s %s\n", n, s.create)
		m := slices.Clone(s.members)
		sort.Strings(m)
		for _, e := range m {
			fmt.Fprintf(&b, "add %s %s\n", n, e)
		}
	}
	return []byte(b.String()), nil
}

// Names lists the existing sets, sorted.
func (f *IPSet) Names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.sets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
