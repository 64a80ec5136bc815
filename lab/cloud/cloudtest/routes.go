package cloudtest

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"github.com/svclab/svclab/lab/cloud"
)

// Routes is an in-memory cloud.Routes that records every call.
type Routes struct {
	mu     sync.Mutex
	table  map[netip.Prefix]cloud.Route
	calls  []string
	failOn map[netip.Prefix]error
}

var _ cloud.Routes = (*Routes)(nil)

// NewRoutes returns a fake holding routes (as if left by an earlier run).
func NewRoutes(routes ...cloud.Route) *Routes {
	f := &Routes{table: map[netip.Prefix]cloud.Route{}, failOn: map[netip.Prefix]error{}}
	for _, r := range routes {
		f.table[r.Dst] = r
	}
	return f
}

// Fail makes Replace and Delete of dst return err (nil clears it).
func (f *Routes) Fail(dst netip.Prefix, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.failOn, dst)
	} else {
		f.failOn[dst] = err
	}
}

// Replace implements cloud.Routes.
func (f *Routes) Replace(_ context.Context, r cloud.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "replace "+r.String())
	if err := f.failOn[r.Dst]; err != nil {
		return err
	}
	r.Via = slices.Clone(r.Via)
	f.table[r.Dst] = r
	return nil
}

// Delete implements cloud.Routes.
func (f *Routes) Delete(_ context.Context, dst netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "delete "+dst.String())
	if err := f.failOn[dst]; err != nil {
		return err
	}
	delete(f.table, dst)
	return nil
}

// List implements cloud.Routes.
func (f *Routes) List(context.Context) ([]cloud.Route, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]cloud.Route, 0, len(f.table))
	for _, r := range f.table {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dst.String() < out[j].Dst.String() })
	return out, nil
}

// Table returns the current routes as `ip route` would print them, sorted.
func (f *Routes) Table() []string {
	rs, _ := f.List(context.Background())
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// Calls returns the calls so far ("replace ROUTE", "delete DST").
func (f *Routes) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}
