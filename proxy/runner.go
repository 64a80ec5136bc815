package proxy

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Flusher flushes stale UDP conntrack entries after a successful sync.
type Flusher interface {
	Flush(ctx context.Context, stale []StaleUDP) error
}

// SyncObserver receives the timing of each sync (for metrics).
type SyncObserver interface {
	// Synced is called after each sync attempt: how long it took, whether it succeeded,
	// and how long the oldest change it applied waited (0 when none).
	Synced(duration time.Duration, err error, programming time.Duration)
}

// Runner is kube-proxy's sync loop: it syncs when the Tracker has changes (coalescing
// bursts for MinInterval), rewrites everything every FullInterval, and retries a failed
// sync with a full one.
type Runner struct {
	Tracker      *Tracker
	Proxier      Proxier
	Flusher      Flusher
	Observer     SyncObserver
	MinInterval  time.Duration
	FullInterval time.Duration
	Log          *slog.Logger

	once    sync.Once
	trigger chan struct{}
	mu      sync.Mutex
	first   time.Time // when the oldest unsynced change arrived
}

func (r *Runner) init() {
	r.once.Do(func() { r.trigger = make(chan struct{}, 1) })
}

// Notify asks for a sync; pass it as the Tracker's onChange.
func (r *Runner) Notify() {
	r.init()
	r.mu.Lock()
	if r.first.IsZero() {
		r.first = time.Now()
	}
	r.mu.Unlock()
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run syncs until ctx is done. The caller starts it once the informers have synced, so
// the first (full) sync sees every Service.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	if r.FullInterval == 0 {
		r.FullInterval = 30 * time.Second
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	full := time.NewTicker(r.FullInterval)
	defer full.Stop()
	retry := time.NewTimer(0) // the first sync happens at once
	defer retry.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.trigger:
		case <-retry.C:
		case <-full.C:
			r.Tracker.ForceFull()
		}
		if wait := r.MinInterval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if !r.Tracker.Pending() {
			continue
		}
		last = time.Now()
		if err := r.SyncOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			retry.Reset(time.Second)
		}
	}
}

// SyncOnce applies the pending changes now.
func (r *Runner) SyncOnce(ctx context.Context) error {
	r.mu.Lock()
	first := r.first
	r.first = time.Time{}
	r.mu.Unlock()
	st := r.Tracker.Apply()
	start := time.Now()
	err := r.Proxier.Sync(ctx, st)
	took := time.Since(start)
	var programming time.Duration
	if !first.IsZero() {
		programming = time.Since(first)
	}
	if r.Observer != nil {
		r.Observer.Synced(took, err, programming)
	}
	if err != nil {
		r.Log.Error("Failed to sync proxy rules; will retry with a full sync", "err", err)
		r.Tracker.ForceFull()
		return err
	}
	r.Log.Debug("Synced proxy rules", "elapsed", took, "full", st.Full, "services", len(st.Services), "changed", st.Changed.Len())
	if r.Flusher != nil && len(st.StaleUDP) > 0 {
		if err := r.Flusher.Flush(ctx, st.StaleUDP); err != nil {
			r.Log.Warn("Failed to flush stale UDP conntrack entries", "err", err)
		}
	}
	return nil
}
