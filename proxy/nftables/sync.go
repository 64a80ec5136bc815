package nftables

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
)

// Sync makes the kube-proxy table match state in one nft transaction. A partial sync
// (state.Full unset and the previous sync successful) rewrites only the chains of the
// Services in state.Changed; the dispatch maps are diffed element by element, and the
// chains of Services that went away are deleted.
func (p *Proxier) Sync(ctx context.Context, state *proxy.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	full := state.Full || p.needFull

	tx := p.nft.NewTransaction()
	if full {
		p.setupTable(tx)
	}
	// Stale objects: everything we had (and, on a full sync, whatever the kernel holds
	// from an earlier process) that no Service uses any more.
	existingChains, existingSets := p.chains.Clone(), p.affinitySets.Clone()
	if full {
		p.listExisting(ctx, existingChains, existingSets)
	}
	var st *stager
	if full && len(state.Services) > stagingBatch {
		st = &stager{existingChains: existingChains, existingSets: existingSets, newTx: p.nft.NewTransaction}
	}
	active := map[string]bool{}
	activeAffinity := sets.New[string]()
	for _, name := range state.SortedServicePorts() {
		skip := !full && !state.Changed.Has(name.NamespacedName)
		p.writeServicePort(tx, st, state.Services[name], state.Endpoints[name], skip, active, activeAffinity)
	}
	var stale []string
	for _, chain := range sets.List(existingChains) {
		if !active[chain] {
			// Flush first so that no rule still jumps to a chain we delete below.
			tx.Flush(&knftables.Chain{Name: chain})
			stale = append(stale, chain)
		}
	}
	for _, set := range sets.List(existingSets.Difference(activeAffinity)) {
		tx.Delete(&knftables.Set{Name: set})
	}
	for _, s := range p.storages() {
		s.cleanup(tx)
	}
	// Kernels before 6.2 may still see a just-deleted map element's chain as in use;
	// upstream waits a second before deleting. svclab's kernels are newer, so the
	// deletion happens in the same transaction.
	for _, chain := range stale {
		tx.Delete(&knftables.Chain{Name: chain})
	}

	if st != nil {
		for _, stx := range st.txs {
			if err := p.nft.Run(ctx, stx); err != nil {
				p.needFull = true
				p.log.Error("Sync failed", "full", full, "err", err)
				return fmt.Errorf("sync nftables rules (table ip %s, new Service chains): %w", TableName, err)
			}
		}
	}
	if err := p.nft.Run(ctx, tx); err != nil {
		p.needFull = true
		p.log.Error("Sync failed", "full", full, "err", err)
		return fmt.Errorf("sync nftables rules (table ip %s): %w", TableName, err)
	}
	p.needFull, p.flushed = false, true
	p.chains = sets.KeySet(active)
	p.affinitySets = activeAffinity
	p.log.Info("SyncProxyRules complete", "full", full, "services", len(state.Services), "changed", state.Changed.Len(), "elapsed", time.Since(start))
	return nil
}

// listExisting adds the kernel's per-Service chains and affinity sets to chains and sets.
func (p *Proxier) listExisting(ctx context.Context, chains, affinitySets sets.Set[string]) {
	if names, err := p.nft.List(ctx, "chains"); err == nil {
		for _, n := range names {
			if isServiceChainName(n) {
				chains.Insert(n)
			}
		}
	} else if !knftables.IsNotFound(err) {
		p.log.Error("Failed to list nftables chains: stale chains will not be deleted", "err", err)
	}
	if names, err := p.nft.List(ctx, "sets"); err == nil {
		for _, n := range names {
			if isAffinitySetName(n) {
				affinitySets.Insert(n)
			}
		}
	} else if !knftables.IsNotFound(err) {
		p.log.Error("Failed to list nftables sets: stale affinity sets will not be deleted", "err", err)
	}
}

// writeServicePort is upstream's per-ServicePort body of syncProxyRules: map elements
// always, chains only when skip is false. With st, the chains of a port whose chains are
// all new go into a staging transaction instead of tx.
func (p *Proxier) writeServicePort(tx *knftables.Transaction, st *stager, svc *proxy.ServicePort, eps []proxy.Endpoint, skip bool, active map[string]bool, activeAffinity sets.Set[string]) {
	name := svc.Name
	protocol := protocolOf(svc.Protocol)
	port := strconv.Itoa(svc.Port)
	nameString := name.String()
	names := serviceChainNames(name)
	cat := proxy.CategorizeEndpoints(eps, svc)
	chainTx := tx
	if !skip && st != nil && st.fresh(svc, names, cat) {
		chainTx = st.next()
	}

	for _, ep := range cat.AllReachable {
		ensureChain(endpointChainName(name, ep), chainTx, active, skip)
		if svc.SessionAffinityClientIP {
			activeAffinity.Insert(affinitySetName(name, ep))
		}
	}
	usesClusterPolicyChain := len(cat.Cluster) > 0 && svc.UsesClusterEndpoints()
	if usesClusterPolicyChain {
		ensureChain(names.cluster, chainTx, active, skip)
	}
	usesLocalPolicyChain := len(cat.Local) > 0 && svc.UsesLocalEndpoints()
	if usesLocalPolicyChain {
		ensureChain(names.local, chainTx, active, skip)
	}

	internalTrafficChain, hasInternalEndpoints := names.cluster, cat.HasAny
	if svc.InternalPolicyLocal {
		internalTrafficChain = names.local
		hasInternalEndpoints = hasInternalEndpoints && len(cat.Local) > 0
	}
	externalPolicyChain, hasExternalEndpoints := names.cluster, cat.HasAny
	if svc.ExternalPolicyLocalApplies() {
		externalPolicyChain = names.local
		hasExternalEndpoints = hasExternalEndpoints && len(cat.Local) > 0
	}
	// The external chain is needed whenever there are endpoints at all: it holds the
	// short-circuit rules for pod and node traffic even when no endpoint is local.
	usesExternalTrafficChain := cat.HasAny && svc.ExternallyAccessible()
	if usesExternalTrafficChain {
		ensureChain(names.external, chainTx, active, skip)
	}

	var internalVerdict, externalVerdict string
	if !cat.HasAny {
		internalVerdict = "goto " + rejectChain
		externalVerdict = "goto " + rejectChain
	} else {
		if !hasInternalEndpoints {
			internalVerdict = "drop"
		}
		if !hasExternalEndpoints {
			externalVerdict = "drop"
		}
	}

	ipKey := func(ip fmt.Stringer) []string { return []string{ip.String(), protocol, port} }
	p.clusterIPs.ensure(tx, &knftables.Element{Key: []string{svc.ClusterIP.String()}})
	if hasInternalEndpoints {
		p.serviceIPs.ensure(tx, &knftables.Element{Key: ipKey(svc.ClusterIP), Value: []string{"goto " + internalTrafficChain}})
	} else {
		p.noEndpointServices.ensure(tx, &knftables.Element{Key: ipKey(svc.ClusterIP), Value: []string{internalVerdict}, Comment: &nameString})
	}
	for _, ip := range svc.ExternalIPs {
		if cat.HasAny {
			p.serviceIPs.ensure(tx, &knftables.Element{Key: ipKey(ip), Value: []string{"goto " + names.external}})
		}
		if !hasExternalEndpoints {
			p.noEndpointServices.ensure(tx, &knftables.Element{Key: ipKey(ip), Value: []string{externalVerdict}, Comment: &nameString})
		}
	}
	usesFWChain := len(svc.LoadBalancerVIPs) > 0 && len(svc.LoadBalancerSourceRanges) > 0
	if usesFWChain {
		ensureChain(names.firewall, chainTx, active, skip)
	}
	for _, ip := range svc.LoadBalancerVIPs {
		if cat.HasAny {
			p.serviceIPs.ensure(tx, &knftables.Element{Key: ipKey(ip), Value: []string{"goto " + names.external}})
		}
		if usesFWChain {
			p.firewallIPs.ensure(tx, &knftables.Element{Key: ipKey(ip), Value: []string{"goto " + names.firewall}})
		}
	}
	if !hasExternalEndpoints {
		for _, ip := range svc.LoadBalancerVIPs {
			p.noEndpointServices.ensure(tx, &knftables.Element{Key: ipKey(ip), Value: []string{externalVerdict}, Comment: &nameString})
		}
	}
	if svc.NodePort != 0 {
		key := []string{protocol, strconv.Itoa(svc.NodePort)}
		if cat.HasAny {
			// NodePorts are not subject to loadBalancerSourceRanges (upstream).
			p.serviceNodePorts.ensure(tx, &knftables.Element{Key: key, Value: []string{"goto " + names.external}})
		}
		if !hasExternalEndpoints {
			p.noEndpointNodePorts.ensure(tx, &knftables.Element{Key: key, Value: []string{externalVerdict}, Comment: &nameString})
		}
	}

	if skip {
		return
	}
	p.writeServiceChains(chainTx, svc, cat, names, serviceChainFlags{
		hasInternalEndpoints:     hasInternalEndpoints,
		hasExternalEndpoints:     hasExternalEndpoints,
		usesExternalTrafficChain: usesExternalTrafficChain,
		usesClusterPolicyChain:   usesClusterPolicyChain,
		usesLocalPolicyChain:     usesLocalPolicyChain,
		usesFWChain:              usesFWChain,
		internalTrafficChain:     internalTrafficChain,
		externalPolicyChain:      externalPolicyChain,
	})
}
