package userspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/svclab/svclab/proxy/ipt"
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
func CleanupRules(ctx context.Context, iptables ipt.Interface) error {
	var errs []error
	var payload strings.Builder
	for _, table := range []string{"filter", "nat"} {
		data, err := iptables.Save(ctx, table)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s table: %w", table, err))
			continue
		}
		sv := parseSave(string(data))
		t := sv.tables[table]
		if t == nil {
			continue
		}
		var owned []string
		for _, c := range t.order {
			if ownedChain(c) {
				owned = append(owned, c)
			}
		}
		if len(owned) == 0 {
			continue
		}
		// Jumps from chains we keep go first, or the chains could not be deleted.
		for _, c := range t.order {
			if ownedChain(c) {
				continue
			}
			for _, r := range t.rules[c] {
				if ownedChain(r.target()) {
					if err := iptables.DeleteRule(ctx, table, c, r.args...); err != nil {
						errs = append(errs, fmt.Errorf("delete %s/%s rule %q: %w", table, c, r.text, err))
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
		if err := iptables.Restore(ctx, []byte(payload.String())); err != nil {
			errs = append(errs, fmt.Errorf("delete userspace chains: %w", err))
		}
	}
	return errors.Join(errs...)
}
