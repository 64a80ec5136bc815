package kubelet

import (
	"context"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// logIndexPeriod is how often running containers' log files are checked for growth.
const logIndexPeriod = 250 * time.Millisecond

// logIndexer remembers when each log file grew, so lines written raw by a runtime can be
// given timestamps (for --timestamps and --since) without a log format of their own.
type logIndexer struct {
	clock  clock.WithTicker
	mu     sync.Mutex
	active map[string]string // runtime ID -> log path
	marks  map[string][]mark // log path -> growth marks, by offset
}

// mark says that the file had size off at time t.
type mark struct {
	off int64
	t   time.Time
}

func newLogIndexer(c clock.WithTicker) *logIndexer {
	return &logIndexer{clock: c, active: map[string]string{}, marks: map[string][]mark{}}
}

// start begins watching path for the container instance id.
func (x *logIndexer) start(id, path string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.active[id] = path
	x.marks[path] = []mark{{0, x.clock.Now()}}
}

// finish takes a last look at the instance's file and stops watching it.
func (x *logIndexer) finish(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if path, ok := x.active[id]; ok {
		x.observe(path)
		delete(x.active, id)
	}
}

func (x *logIndexer) remove(path string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.marks, path)
}

func (x *logIndexer) removeDir(dir string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for path := range x.marks {
		if strings.HasPrefix(path, dir+string(os.PathSeparator)) {
			delete(x.marks, path)
		}
	}
	for id, path := range x.active {
		if strings.HasPrefix(path, dir+string(os.PathSeparator)) {
			delete(x.active, id)
		}
	}
}

// observe records a mark when path grew; x.mu is held.
func (x *logIndexer) observe(path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	ms := x.marks[path]
	if len(ms) > 0 && fi.Size() <= ms[len(ms)-1].off {
		return
	}
	x.marks[path] = append(ms, mark{fi.Size(), x.clock.Now()})
}

// run watches active files until ctx ends.
func (x *logIndexer) run(ctx context.Context) {
	t := x.clock.NewTicker(logIndexPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		x.mu.Lock()
		for _, path := range x.active {
			x.observe(path)
		}
		x.mu.Unlock()
	}
}

// timeAt is when the byte before offset end of path was first seen; output not seen yet is
// stamped now, and files without marks (written before a kubelet restart) get their
// modification time.
func (x *logIndexer) timeAt(path string, end int64) time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.marks[path]; !ok {
		if fi, err := os.Stat(path); err == nil {
			return fi.ModTime()
		}
		return x.clock.Now()
	}
	x.observe(path)
	ms := x.marks[path]
	i := sort.Search(len(ms), func(i int) bool { return ms[i].off >= end })
	if i == len(ms) {
		return x.clock.Now()
	}
	return ms[i].t
}
