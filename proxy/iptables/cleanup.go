package iptables

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/svclab/svclab/proxy/ipt"
)

// kubeletChains are KUBE- chains kubelet owns; like upstream's --cleanup, they stay.
var kubeletChains = []string{"KUBE-FIREWALL", "KUBE-KUBELET-CANARY"}

// cleanupTables are the tables any kube-proxy mode writes to.
var cleanupTables = []string{"nat", "filter", "mangle"}

// Cleanup implements proxy.Proxier, like `kube-proxy --cleanup`: it removes every rule
// that jumps to a KUBE-* chain from other chains, then flushes and deletes every KUBE-*
// chain, whichever mode (iptables, ipvs, userspace's KUBE-PORTALS-*) created it.
func (p *Proxier) Cleanup(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := CleanupRules(ctx, p.ipt)
	p.active.Clear()
	p.needFull = true
	return err
}

func isKubeChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") && !slices.Contains(kubeletChains, name)
}

// CleanupRules is Cleanup without a Proxier, so other modes and the command-line program
// can remove every KUBE-* chain (of any mode) when they start.
func CleanupRules(ctx context.Context, ipt ipt.Interface) error {
	var errs []error
	var payload strings.Builder
	for _, tableName := range cleanupTables {
		data, err := ipt.Save(ctx, tableName)
		if err != nil {
			errs = append(errs, fmt.Errorf("read the %s table: %w", tableName, err))
			continue
		}
		tables, err := ParseSave(string(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("read the %s table: %w", tableName, err))
			continue
		}
		t := tables[tableName]
		if t == nil {
			continue
		}
		var kube []string
		for _, c := range t.Chains {
			if isKubeChain(c.Name) {
				kube = append(kube, c.Name)
				continue
			}
			// Unlink: rules in other chains (PREROUTING, OUTPUT, ...) that jump to ours.
			for _, r := range c.Rules {
				if target := ruleTarget(r.Args); isKubeChain(target) {
					if err := ipt.DeleteRule(ctx, tableName, c.Name, r.Args...); err != nil {
						errs = append(errs, fmt.Errorf("delete %s rule %q: %w", tableName, r.Raw, err))
					}
				}
			}
		}
		if len(kube) == 0 {
			continue
		}
		// Flush them all first (KUBE chains jump to each other), then delete.
		fmt.Fprintf(&payload, "*%s\n", tableName)
		for _, c := range kube {
			payload.WriteString(chainLine(c) + "\n")
		}
		for _, c := range kube {
			fmt.Fprintf(&payload, "-X %s\n", c)
		}
		payload.WriteString("COMMIT\n")
	}
	if payload.Len() > 0 {
		if err := ipt.Restore(ctx, []byte(payload.String())); err != nil {
			errs = append(errs, fmt.Errorf("delete KUBE-* chains: %w", err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("clean up iptables rules: %w", errors.Join(errs...))
	}
	return nil
}

// ruleTarget returns the chain or target after -j/-g.
func ruleTarget(args []string) string {
	for i, a := range args {
		if (a == "-j" || a == "-g" || a == "--jump" || a == "--goto") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
