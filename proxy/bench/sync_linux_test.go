package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// syncSizes are the Service counts of the full-sync rows; the last one is also the size of
// the one-endpoint change.
var syncSizes = []int{100, 1000, 10000}

var syncBudget = flag.Duration("sync-budget", 30*time.Second,
	"longest one sync may take; a slower one is cancelled and its row reported as over budget")

// errOverBudget marks a sync cancelled at -sync-budget.
var errOverBudget = errors.New("over budget")

// syncFixture is a Proxier on a fresh node namespace with n Services fed to its Tracker
// (and not yet synced).
type syncFixture struct {
	p  proxy.Proxier
	tr *proxy.Tracker
	n  int
}

func newSyncFixture(owner testing.TB, m mode, n int) (*syncFixture, error) {
	ns, err := newNetNS(owner)
	if err != nil {
		return nil, err
	}
	p, err := m.start(owner, ns)
	if err != nil {
		return nil, err
	}
	tr := proxy.NewTracker(pt.NodeName, nil)
	pt.Feed(tr, services(0, n)...)
	return &syncFixture{p: p, tr: tr, n: n}, nil
}

// sync applies the Tracker's pending changes and syncs them, returning the time of each
// half: Tracker.Apply (folding events into State) and Proxier.Sync (rendering and the
// kernel calls). A sync longer than -sync-budget is cancelled with errOverBudget.
func (f *syncFixture) sync(full bool) (apply, sync time.Duration, err error) {
	if full {
		f.tr.ForceFull()
	}
	start := time.Now()
	st := f.tr.Apply()
	apply = time.Since(start)
	if st.Full != full {
		return 0, 0, fmt.Errorf("state has Full=%v, want %v (changed: %v)", st.Full, full, st.Changed.UnsortedList())
	}
	ctx, cancel := context.WithTimeout(context.Background(), *syncBudget)
	defer cancel()
	start = time.Now()
	err = f.p.Sync(ctx, st)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: cancelled after %s (-sync-budget): %v", errOverBudget, time.Since(start).Round(time.Second), err)
	}
	return apply, time.Since(start), err
}

// BenchmarkProxySync times, per mode and in a fresh namespace per size, a full sync of 100,
// 1,000 and 10,000 Services through the real kernel, then a one-endpoint change at 10,000
// (a non-full sync naming one Service). ms/sync is Tracker.Apply plus Proxier.Sync
// (apply-ms is the first part); with -benchtime 1x a full sync is the first one, into an
// empty namespace, and later iterations are full resyncs. Ratios are against the same
// mode's 100-Service sync (x-vs-100), iptables' sync of the same size in this run
// (x-vs-iptables, or x-vs-iptables-legacy when only that backend finished it), and for the
// change the same
// mode's full sync at 10,000 (x-vs-full). A sync over -sync-budget skips its row and the
// mode's larger ones, saying so.
func BenchmarkProxySync(b *testing.B) {
	privtest.Require(b, "ip")
	// baseline: row name → ms/sync of the first iptables mode that finished that row.
	type baseline struct {
		mode string
		ms   float64
	}
	iptablesMS := map[string]baseline{}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			m.require(b)
			mode := b // the 10,000-Service namespace lives until the mode is done
			fullMS := map[int]float64{}
			var big *syncFixture
			var overBudget error
			report := func(b *testing.B, row string, apply, total time.Duration) {
				ms := msPer(total, b.N)
				b.ReportMetric(ms, "ms/sync")
				b.ReportMetric(msPer(apply, b.N), "apply-ms")
				if base, ok := iptablesMS[row]; ok {
					b.ReportMetric(ms/base.ms, "x-vs-"+base.mode)
				} else if m.name == "iptables" || m.name == "iptables-legacy" {
					iptablesMS[row] = baseline{m.name, ms}
				}
			}
			for _, n := range syncSizes {
				row := fmt.Sprintf("full-%d", n)
				b.Run(row, func(b *testing.B) {
					if overBudget != nil {
						b.Skipf("not run: %v", overBudget)
					}
					owner := testing.TB(b)
					if n == syncSizes[len(syncSizes)-1] {
						owner = mode
					}
					f, err := newSyncFixture(owner, m, n)
					if err != nil {
						b.Fatal(err)
					}
					var applied, total time.Duration
					b.ResetTimer()
					for range b.N {
						apply, sync, err := f.sync(true)
						if errors.Is(err, errOverBudget) {
							overBudget = fmt.Errorf("the full sync of %d Services went over budget", n)
							b.Skipf("full sync of %d Services: %v", n, err)
						}
						if err != nil {
							b.Fatalf("full sync of %d Services: %v", n, err)
						}
						applied += apply
						total += apply + sync
					}
					b.StopTimer()
					report(b, row, applied, total)
					fullMS[n] = msPer(total, b.N)
					if base := fullMS[syncSizes[0]]; n != syncSizes[0] && base > 0 {
						b.ReportMetric(fullMS[n]/base, fmt.Sprintf("x-vs-%d", syncSizes[0]))
					}
					if owner == mode {
						big = f
					}
				})
			}
			n := syncSizes[len(syncSizes)-1]
			row := fmt.Sprintf("change-%d", n)
			b.Run(row, func(b *testing.B) {
				if overBudget != nil {
					b.Skipf("not run: needs the %d Services in the kernel, but %v", n, overBudget)
				}
				f := big
				if f == nil { // the full-sync row was filtered out: set up untimed
					var err error
					if f, err = newSyncFixture(b, m, n); err != nil {
						b.Fatal(err)
					}
					if _, _, err := f.sync(true); err != nil {
						b.Fatal(err)
					}
				}
				var applied, total time.Duration
				b.ResetTimer()
				for i := range b.N {
					pt.Feed(f.tr, movedEndpoint(n/2, i))
					apply, sync, err := f.sync(false)
					if errors.Is(err, errOverBudget) {
						b.Skipf("one-endpoint change at %d Services: %v", n, err)
					}
					if err != nil {
						b.Fatalf("one-endpoint change at %d Services: %v", n, err)
					}
					applied += apply
					total += apply + sync
				}
				b.StopTimer()
				report(b, row, applied, total)
				if base := fullMS[n]; base > 0 {
					b.ReportMetric(msPer(total, b.N)/base, "x-vs-full")
				}
			})
		})
	}
}

// msPer is d/n in milliseconds.
func msPer(d time.Duration, n int) float64 {
	return float64(d) / float64(n) / float64(time.Millisecond)
}
