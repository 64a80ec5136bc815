package iptables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
)

// Proxier is the iptables mode: each Sync renders the whole State into one
// `iptables-restore --noflush` payload for the filter and nat tables.
type Proxier struct {
	cfg proxy.Config
	ipt ipt.Interface
	log *slog.Logger

	mu sync.Mutex
	// needFull forces the next Sync to be full (first sync, after a failure).
	needFull bool
	// active holds the per-Service nat chains the kernel has after the last successful
	// sync, so a partial sync can delete the ones that went away without iptables-save.
	active sets.Set[string]
	// largeCluster is the large cluster mode of the last sync; when it flips, every chain
	// is rewritten so comments are consistent.
	largeCluster bool
	names        *nameCache
	// top is the top-level chains' text after the last successful sync (nil after a
	// failure): a partial sync omits the ones that did not change.
	top *topCache
	// lastPayload is the last restore input (for debugging and tests).
	lastPayload []byte
}

var _ proxy.Proxier = (*Proxier)(nil)

// New returns the iptables Proxier for the node described by cfg, programming iptables
// through ipt (ipt.Exec in production, ipttest.Fake in tests).
func New(cfg proxy.Config, iptables ipt.Interface, log *slog.Logger) (*Proxier, error) {
	if iptables == nil {
		return nil, errors.New("iptables proxier: no iptables interface given")
	}
	if cfg.MasqueradeBit < 0 || cfg.MasqueradeBit > 31 {
		return nil, fmt.Errorf("iptables proxier: masquerade bit %d is out of range: use 0 to 31 (kube-proxy's default is %d)", cfg.MasqueradeBit, proxy.DefaultMasqueradeBit)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("proxier", "iptables")
	return &Proxier{cfg: cfg, ipt: iptables, log: log, needFull: true, active: sets.New[string]()}, nil
}

// Sync implements proxy.Proxier: one restore with both tables. A partial sync (state.Full
// false) writes the top-level chains and the chains of the Services in state.Changed
// only; the other Services' chains are left out of the payload, which iptables-restore
// --noflush then leaves untouched (upstream's partial sync).
func (p *Proxier) Sync(ctx context.Context, state *proxy.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()

	large := totalEndpoints(state) > largeClusterEndpointsThreshold
	full := state.Full || p.needFull || large != p.largeCluster

	// Chains that exist now: on a full sync ask the kernel (this also removes leftovers of
	// an earlier process), otherwise trust the last sync.
	existing := p.active
	if full {
		existing = p.active.Clone()
		if data, err := p.ipt.Save(ctx, "nat"); err != nil {
			p.log.Error("Failed to execute iptables-save: stale chains will not be deleted", "err", err)
		} else if tables, err := ParseSave(string(data)); err == nil && tables["nat"] != nil {
			for _, c := range tables["nat"].Chains {
				existing.Insert(c.Name)
			}
		}
	}

	if full || p.names == nil {
		p.names = newNameCache()
	}
	r := newRenderer(p.cfg, large, p.names, len(p.active))
	if !full {
		r.prev = p.top
	}
	r.header()
	for _, name := range state.SortedServicePorts() {
		skip := !full && !state.Changed.Has(name.NamespacedName)
		r.servicePort(state.Services[name], state.Endpoints[name], skip)
	}
	var stale []string
	for c := range existing {
		if isServiceChainName(c) && !r.active.Has(c) {
			stale = append(stale, c)
		}
	}
	r.deleteChains(stale)
	r.footer()
	top := &topCache{nat: r.natTopText(), filter: r.filterSection(), services: r.services}
	filter, natTop := top.filter, true
	if r.prev != nil {
		// Unchanged top-level chains stay out of the payload; --noflush keeps them.
		if top.filter == r.prev.filter {
			filter = ""
		}
		natTop = top.nat != r.prev.nat
	}
	payload := r.payload(filter, !natTop)
	p.lastPayload = payload

	if err := p.ipt.Restore(ctx, payload); err != nil {
		p.needFull = true
		p.top = nil
		return fmt.Errorf("sync iptables rules: %w", err)
	}
	p.top = top
	p.active = r.active
	p.largeCluster = large
	if full {
		// The jump rules from the built-in chains are only checked on full syncs, as
		// upstream does, to spare ~12 iptables calls per sync. They are ensured after the
		// restore because the chains they jump to must exist first.
		if err := p.ensureJumps(ctx); err != nil {
			p.needFull = true
			p.top = nil
			return err
		}
	}
	p.needFull = false
	p.log.Info("SyncProxyRules complete", "elapsed", time.Since(start), "full", full,
		"filterRewritten", filter != "", "natTopRewritten", natTop,
		"services", len(state.Services), "natRules", r.natRules.lines-len(stale),
		"filterRules", r.filterRules.lines, "deletedChains", len(stale))
	return nil
}

func (p *Proxier) ensureJumps(ctx context.Context) error {
	for _, j := range jumpChains {
		if _, err := p.ipt.EnsureRule(ctx, j.table, j.srcChain, j.args()...); err != nil {
			return fmt.Errorf("ensure that %s/%s jumps to %s: %w", j.table, j.srcChain, j.dstChain, err)
		}
	}
	return nil
}

// LastPayload returns the last iptables-restore input Sync produced.
func (p *Proxier) LastPayload() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.lastPayload...)
}
