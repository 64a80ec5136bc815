package sidecar

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Stats counts what passed through the sidecar, as a mesh proxy's metrics do.
type Stats struct {
	mu             sync.Mutex
	requests       map[int]uint64 // by status code
	retries        uint64
	upstreamErrors uint64
	seconds        float64
}

func newStats() *Stats { return &Stats{requests: map[int]uint64{}} }

func (s *Stats) observe(code int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[code]++
	s.seconds += d.Seconds()
}

func (s *Stats) retry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retries++
}

func (s *Stats) upstreamError() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upstreamErrors++
}

// Requests returns how many requests were answered, over all status codes.
func (s *Stats) Requests() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for _, c := range s.requests {
		n += c
	}
	return n
}

// WriteText writes the counters in Prometheus text format.
func (s *Stats) WriteText(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	codes := make([]int, 0, len(s.requests))
	var total uint64
	for c, n := range s.requests {
		codes = append(codes, c)
		total += n
	}
	sort.Ints(codes)
	fmt.Fprintln(w, "# HELP sidecar_requests_total Requests the sidecar answered, by status code.")
	fmt.Fprintln(w, "# TYPE sidecar_requests_total counter")
	for _, c := range codes {
		fmt.Fprintf(w, "sidecar_requests_total{code=\"%d\"} %d\n", c, s.requests[c])
	}
	fmt.Fprintln(w, "# HELP sidecar_request_duration_seconds_sum Time spent answering requests.")
	fmt.Fprintln(w, "# TYPE sidecar_request_duration_seconds_sum counter")
	fmt.Fprintf(w, "sidecar_request_duration_seconds_sum %g\n", s.seconds)
	fmt.Fprintf(w, "sidecar_request_duration_seconds_count %d\n", total)
	fmt.Fprintln(w, "# HELP sidecar_retries_total Retries after the app could not be reached.")
	fmt.Fprintln(w, "# TYPE sidecar_retries_total counter")
	fmt.Fprintf(w, "sidecar_retries_total %d\n", s.retries)
	fmt.Fprintln(w, "# HELP sidecar_upstream_errors_total Requests answered 502 because the app could not be reached.")
	fmt.Fprintln(w, "# TYPE sidecar_upstream_errors_total counter")
	fmt.Fprintf(w, "sidecar_upstream_errors_total %d\n", s.upstreamErrors)
}
