package userspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/iptables"
)

// ownedChain reports whether a chain belongs to this mode (including names of older or
// other versions: any KUBE-PORTALS-* or KUBE-NODEPORT-* chain).
func ownedChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-PORTALS-") || strings.HasPrefix(name, "KUBE-NODEPORT-") || name == RejectChain
}

// Cleanup closes every listener and removes this mode's chains and the rules that jump
// to them, as found in iptables-save, whether or not this process created them.
func (p *Proxier) Cleanup(ctx context.Context) error {
	p.Close()
	return CleanupRules(ctx, p.ipt)
}

// CleanupRules removes the userspace mode's chains and every rule jumping to them from
// the node (what `kube-proxy --cleanup` does for this mode); other modes call it when
// they start.
func CleanupRules(ctx context.Context, runner ipt.Interface) error {
	var errs []error
	var payload strings.Builder
	for _, table := range []string{"filter", "nat"} {
		data, err := runner.Save(ctx, table)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s table: %w", table, err))
			continue
		}
		tables, err := iptables.ParseSave(string(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s table: %w", table, err))
			continue
		}
		t := tables[table]
		if t == nil {
			continue
		}
		var owned []string
		for _, c := range t.Chains {
			if ownedChain(c.Name) {
				owned = append(owned, c.Name)
			}
		}
		if len(owned) == 0 {
			continue
		}
		// Jumps from chains we keep go first, or the chains could not be deleted.
		for _, c := range t.Chains {
			if ownedChain(c.Name) {
				continue
			}
			for _, r := range c.Rules {
				if ownedChain(jumpTarget(r.Args)) {
					if err := runner.DeleteRule(ctx, table, c.Name, r.Args...); err != nil {
						errs = append(errs, fmt.Errorf("delete %s/%s rule %q: %w", table, c.Name, r.Raw, err))
					}
				}
			}
		}
		fmt.Fprintf(&payload, "*%s\n", table)
		for _, c := range owned {
			fmt.Fprintf(&payload, ":%s - [0:0]\n", c)
		}
		for _, c := range owned {
			fmt.Fprintf(&payload, "-X %s\n", c)
		}
		payload.WriteString("COMMIT\n")
	}
	if payload.Len() > 0 {
		if err := runner.Restore(ctx, []byte(payload.String())); err != nil {
			errs = append(errs, fmt.Errorf("delete userspace chains: %w", err))
		}
	}
	return errors.Join(errs...)
}
