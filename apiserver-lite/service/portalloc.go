package service

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Port allocation errors, worded as kube-apiserver's portallocator.
var (
	errPortRangeFull = errors.New("range is full")
	errPortAllocated = errors.New("provided port is already allocated")
)

type portNotInRangeError struct{ validPorts string }

func (e *portNotInRangeError) Error() string {
	return fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", e.validPorts)
}

// portAllocator is an in-memory bitmap over a port range. Like upstream it splits the range at
// an offset: random allocation prefers the upper band and only falls back to the lower band,
// which is left for users who pick a port themselves (KEP-3668).
type portAllocator struct {
	pr     utilnet.PortRange
	offset int

	mu    sync.Mutex
	used  []bool
	count int
	rand  *rand.Rand
}

func newPortAllocator(pr utilnet.PortRange, rnd *rand.Rand) *portAllocator {
	return &portAllocator{pr: pr, offset: portRangeOffset(pr.Size), used: make([]bool, pr.Size), rand: rnd}
}

// portRangeOffset is min(max(16, size/32), 128), or 0 for ranges of 16 ports or fewer.
func portRangeOffset(size int) int {
	const lo, hi, step = 16, 128, 32
	if size <= lo {
		return 0
	}
	return min(max(size/step, lo), hi)
}

func (a *portAllocator) index(port int) (int, error) {
	if !a.pr.Contains(port) {
		return 0, &portNotInRangeError{a.pr.String()}
	}
	return port - a.pr.Base, nil
}

// check reports whether port could be allocated now, without allocating it.
func (a *portAllocator) check(port int) error {
	i, err := a.index(port)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[i] {
		return errPortAllocated
	}
	return nil
}

func (a *portAllocator) allocate(port int) error {
	i, err := a.index(port)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[i] {
		return errPortAllocated
	}
	a.used[i] = true
	a.count++
	return nil
}

// next picks a random free port (upper band first) and marks it used unless dryRun.
func (a *portAllocator) next(dryRun bool) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.count >= a.pr.Size {
		return 0, errPortRangeFull
	}
	pick := func(lo, n int) (int, bool) {
		if n <= 0 {
			return 0, false
		}
		start := a.rand.IntN(n)
		for i := range n {
			at := lo + (start+i)%n
			if !a.used[at] {
				return at, true
			}
		}
		return 0, false
	}
	at, ok := pick(a.offset, a.pr.Size-a.offset)
	if !ok {
		at, ok = pick(0, a.offset)
	}
	if !ok {
		return 0, errPortRangeFull
	}
	if !dryRun {
		a.used[at] = true
		a.count++
	}
	return a.pr.Base + at, nil
}

// release frees port; releasing a free or out-of-range port is a no-op.
func (a *portAllocator) release(port int) {
	i, err := a.index(port)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[i] {
		a.used[i] = false
		a.count--
	}
}

func (a *portAllocator) has(port int) bool {
	i, err := a.index(port)
	if err != nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used[i]
}

func (a *portAllocator) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.used)
	a.count = 0
}

// portOperation is upstream's PortAllocationOperation: allocations happen at once (leaking a
// port is better than handing it out twice), releases are deferred to Commit, and Finish
// without Commit rolls the allocations back. A dry-run operation only checks.
type portOperation struct {
	pa              *portAllocator
	dryRun          bool
	allocated       []int
	releaseDeferred []int
	committed       bool
}

func (op *portOperation) allocate(port int) error {
	if op.dryRun {
		if err := op.pa.check(port); err != nil {
			return err
		}
		for _, a := range op.allocated {
			if a == port {
				return errPortAllocated
			}
		}
		op.allocated = append(op.allocated, port)
		return nil
	}
	if err := op.pa.allocate(port); err != nil {
		return err
	}
	op.allocated = append(op.allocated, port)
	return nil
}

func (op *portOperation) allocateNext() (int, error) {
	if op.dryRun {
		port, err := op.pa.next(true)
		if err != nil {
			return 0, err
		}
		op.allocated = append(op.allocated, port)
		return port, nil
	}
	port, err := op.pa.next(false)
	if err != nil {
		return 0, err
	}
	op.allocated = append(op.allocated, port)
	return port, nil
}

func (op *portOperation) releaseLater(port int) {
	op.releaseDeferred = append(op.releaseDeferred, port)
}

// Commit implements Txn: the deferred releases happen now.
func (op *portOperation) Commit() {
	if op.committed {
		return
	}
	op.committed = true
	if op.dryRun {
		return
	}
	for _, p := range op.releaseDeferred {
		op.pa.release(p)
	}
}

// Revert implements Txn: the allocations are rolled back, unless already committed.
func (op *portOperation) Revert() {
	if op.committed {
		return
	}
	op.committed = true
	if op.dryRun {
		return
	}
	for _, p := range op.allocated {
		op.pa.release(p)
	}
}
