package nftables

import (
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
)

// stagingBatch is how many fresh Service ports go into one staging transaction.
//
// The kernel binds each anonymous set (every `numgen random mod N vmap { ... }`) by
// walking the whole transaction (__nft_set_trans_bind), so one transaction holding
// 10,000 Services costs time quadratic in its size: 148 s measured on kernel 6.18 against
// ~6 s when the same rules come in batches.
const stagingBatch = 500

// stager writes the chains of fresh Service ports (none of whose chains or affinity sets
// exist in the kernel) into staging transactions run before the main one. Nothing jumps
// to those chains until the main transaction adds the map elements, so packets see the
// new rules all at once, as with one transaction.
type stager struct {
	existingChains, existingSets sets.Set[string]
	txs                          []*knftables.Transaction
	inBatch                      int
	newTx                        func() *knftables.Transaction
}

// fresh reports whether none of the port's chains and affinity sets exist.
func (s *stager) fresh(svc *proxy.ServicePort, names chainNames, cat proxy.Categorized) bool {
	for _, c := range []string{names.cluster, names.local, names.external, names.firewall} {
		if s.existingChains.Has(c) {
			return false
		}
	}
	for _, ep := range cat.AllReachable {
		if s.existingChains.Has(endpointChainName(svc.Name, ep)) || s.existingSets.Has(affinitySetName(svc.Name, ep)) {
			return false
		}
	}
	return true
}

// next is the staging transaction for one more fresh Service port.
func (s *stager) next() *knftables.Transaction {
	if len(s.txs) == 0 || s.inBatch == stagingBatch {
		tx := s.newTx()
		if len(s.txs) == 0 {
			// The table and the chain every endpoint jumps to must exist first; adding
			// them again changes nothing, and the main transaction fills them.
			tx.Add(&knftables.Table{Comment: knftables.PtrTo("rules for kube-proxy")})
			tx.Add(&knftables.Chain{Name: markMasqChain})
		}
		s.txs = append(s.txs, tx)
		s.inBatch = 0
	}
	s.inBatch++
	return s.txs[len(s.txs)-1]
}
