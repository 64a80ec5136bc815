package bench

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// samples collects request latencies from many goroutines.
type samples struct {
	mu  sync.Mutex
	d   []time.Duration
	off time.Duration // total wall time of the measured phases
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// percentile returns the p-th percentile (0 < p <= 100), nearest-rank.
func (s *samples) percentile(p float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.d) == 0 {
		return 0
	}
	sorted := slices.Clone(s.d)
	slices.Sort(sorted)
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// rate is completed operations per second of measured wall time.
func (s *samples) rate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off <= 0 {
		return 0
	}
	return float64(len(s.d)) / s.off.Seconds()
}

// report publishes req/s, p50-ms and p99-ms for b.
func (s *samples) report(b *testing.B) {
	b.ReportMetric(s.rate(), "req/s")
	b.ReportMetric(ms(s.percentile(50)), "p50-ms")
	b.ReportMetric(ms(s.percentile(99)), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runParallel calls op(i) for i in [0,n) from workers goroutines, timing each call, and adds
// the wall time to s. It stops at the first error.
func runParallel(s *samples, n, workers int, op func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("operation %d: %w", i, err) })
					next.Store(int64(n)) // stop the others
					return
				}
				s.add(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	s.off += time.Since(start)
	s.mu.Unlock()
	return firstErr
}
