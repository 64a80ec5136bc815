package kubelettest

import "sync/atomic"

// seq orders calls across every fake in this package, so tests can check that one call
// happened before another (containers stopped before the network went).
var seq atomic.Int64

// Next returns the next global sequence number; tests use it to stamp their own steps (such
// as a client reactor) into the same order.
func Next() int64 { return seq.Add(1) }
