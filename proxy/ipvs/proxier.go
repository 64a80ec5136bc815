package ipvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	mobyipvs "github.com/moby/ipvs"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
)

// DefaultScheduler is upstream's default --ipvs-scheduler (round robin).
const DefaultScheduler = "rr"

// schedulers are the IPVS schedulers kube-proxy accepts.
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh"}

// Options tune the ipvs mode.
type Options struct {
	// Scheduler is the IPVS scheduler of every virtual server (default "rr").
	Scheduler string
}

// Handles are the kernel touchpoints a Proxier programs.
type Handles struct {
	IPVS     Handle
	Netlink  Netlink
	IPSet    IPSet
	IPTables ipt.Interface
}

// Proxier is the ipvs mode of svclab's kube-proxy.
type Proxier struct {
	cfg  proxy.Config
	opts Options
	h    Handles
	log  *slog.Logger
	mu   sync.Mutex
}

var _ proxy.Proxier = (*Proxier)(nil)

// New returns a Proxier that programs node cfg through h.
func New(cfg proxy.Config, opts Options, h Handles, log *slog.Logger) (*Proxier, error) {
	if opts.Scheduler == "" {
		opts.Scheduler = DefaultScheduler
	}
	if !slices.Contains(schedulers, opts.Scheduler) {
		return nil, fmt.Errorf("unknown IPVS scheduler %q: use one of %v (--ipvs-scheduler)", opts.Scheduler, schedulers)
	}
	if h.IPVS == nil || h.Netlink == nil || h.IPSet == nil || h.IPTables == nil {
		return nil, errors.New("ipvs proxier: every handle (IPVS, Netlink, IPSet, IPTables) is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Proxier{cfg: cfg, opts: opts, h: h, log: log.With("mode", "ipvs")}, nil
}

// NewKernel checks that the kernel has IPVS (the error wraps ErrNoIPVS if not), sets the
// sysctls upstream needs and returns a Proxier over the real kernel of the caller's
// network namespace.
func NewKernel(cfg proxy.Config, opts Options, log *slog.Logger) (*Proxier, error) {
	if err := CheckKernel(); err != nil {
		return nil, err
	}
	if err := SetSysctls("/proc/sys"); err != nil {
		return nil, err
	}
	handle, err := mobyipvs.New("")
	if err != nil {
		return nil, fmt.Errorf("open IPVS netlink: %w: %w", ErrNoIPVS, err)
	}
	nl, err := NewNetlink(nil)
	if err != nil {
		return nil, err
	}
	return New(cfg, opts, Handles{IPVS: handle, Netlink: nl, IPSet: &IPSetExec{}, IPTables: &ipt.Exec{}}, log)
}

// sysctls are upstream's IPVS settings: conntrack for the iptables masquerade rules,
// expiry of connections to removed real servers and of affinity templates that point at
// quiescent (weight 0) ones, and forwarding.
var sysctls = []struct{ path, value string }{
	{"net/ipv4/vs/conntrack", "1"},
	{"net/ipv4/vs/expire_nodest_conn", "1"},
	{"net/ipv4/vs/expire_quiescent_template", "1"},
	{"net/ipv4/ip_forward", "1"},
}

// SetSysctls writes upstream's IPVS sysctls under root (normally /proc/sys, which shows
// the network namespace of the calling thread).
func SetSysctls(root string) error {
	for _, s := range sysctls {
		if err := os.WriteFile(filepath.Join(root, s.path), []byte(s.value), 0o644); err != nil {
			return fmt.Errorf("set sysctl %s=%s: %w", s.path, s.value, err)
		}
	}
	return nil
}

// Sync implements proxy.Proxier: it makes kube-ipvs0, the ipsets, the IPVS table and the
// iptables rules match state. IPVS state is read back from the kernel every time, so
// every sync is a full one.
func (p *Proxier) Sync(ctx context.Context, state *proxy.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	if err := p.h.Netlink.EnsureDummyDevice(ctx, DummyDevice); err != nil {
		return fmt.Errorf("ensure %s: %w", DummyDevice, err)
	}
	bound, err := p.h.Netlink.Addresses(ctx, DummyDevice)
	if err != nil {
		return err
	}
	nodeAddrs, err := p.h.Netlink.LocalAddresses(ctx, DummyDevice)
	if err != nil {
		return err
	}
	pl := p.buildPlan(state, nodeAddrs)

	saved, err := p.h.IPSet.Save(ctx)
	if err != nil {
		return fmt.Errorf("read ipsets: %w", err)
	}
	if err := p.h.IPSet.Restore(ctx, renderIPSetRestore(ParseIPSetSave(saved), pl.sets)); err != nil {
		return fmt.Errorf("sync ipsets: %w", err)
	}
	if err := p.syncIPVS(ctx, pl, bound); err != nil {
		return err
	}
	if err := p.h.IPTables.Restore(ctx, p.renderIPTables(pl)); err != nil {
		return fmt.Errorf("sync iptables rules for ipvs: %w", err)
	}
	for _, j := range jumps {
		if _, err := p.h.IPTables.EnsureRule(ctx, j.table, j.from, jumpArgs(j.comment, j.to)...); err != nil {
			return fmt.Errorf("ensure jump %s/%s -> %s: %w", j.table, j.from, j.to, err)
		}
	}
	// Stale addresses go last, once no virtual server needs them.
	for _, a := range bound {
		if !slices.Contains(pl.bind, a) {
			if err := p.h.Netlink.DelAddress(ctx, DummyDevice, a); err != nil {
				return err
			}
		}
	}
	p.log.Info("synced ipvs rules", "virtualServers", len(pl.order), "elapsed", time.Since(start))
	return nil
}

// Cleanup implements proxy.Proxier like `kube-proxy --cleanup` for ipvs: every virtual
// server, the kube-ipvs0 device, the jump rules and chains, then the ipsets (which
// iptables rules may reference until then).
func (p *Proxier) Cleanup(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	if err := p.h.IPVS.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("flush IPVS table: %w", err))
	}
	if err := p.h.Netlink.DeleteDummyDevice(ctx, DummyDevice); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, p.cleanupIPTables(ctx)...)
	saved, err := p.h.IPSet.Save(ctx)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		// No ipset tool, so no sets to remove.
	case err != nil:
		errs = append(errs, fmt.Errorf("read ipsets: %w", err))
	default:
		have := ParseIPSetSave(saved)
		var b []byte
		for _, s := range ipsets {
			if _, ok := have[s.name]; ok {
				b = fmt.Appendf(b, "destroy %s\n", s.name)
			}
		}
		if err := p.h.IPSet.Restore(ctx, b); err != nil {
			errs = append(errs, fmt.Errorf("destroy ipsets: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (p *Proxier) cleanupIPTables(ctx context.Context) []error {
	var errs []error
	for _, j := range jumps {
		if err := p.h.IPTables.DeleteRule(ctx, j.table, j.from, jumpArgs(j.comment, j.to)...); err != nil {
			errs = append(errs, err)
		}
	}
	// Flush every chain first (so they no longer reference each other), then delete them
	// one by one: a chain another mode still jumps to (KUBE-MARK-MASQ) stays.
	flush := "*nat\n"
	for _, c := range chains {
		if c.table == tableNAT {
			flush += ":" + c.chain + " - [0:0]\n"
		}
	}
	flush += "COMMIT\n*filter\n"
	for _, c := range chains {
		if c.table == tableFilter {
			flush += ":" + c.chain + " - [0:0]\n"
		}
	}
	flush += "COMMIT\n"
	if err := p.h.IPTables.Restore(ctx, []byte(flush)); err != nil {
		return append(errs, fmt.Errorf("flush ipvs iptables chains: %w", err))
	}
	for _, c := range chains {
		del := fmt.Sprintf("*%s\n-X %s\nCOMMIT\n", c.table, c.chain)
		if err := p.h.IPTables.Restore(ctx, []byte(del)); err != nil {
			p.log.Info("kept iptables chain still in use", "table", c.table, "chain", c.chain, "err", err)
		}
	}
	return errs
}
