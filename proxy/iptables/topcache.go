package iptables

import (
	"strings"

	"github.com/svclab/svclab/proxy"
)

// span is a byte range of a lineBuffer.
type span struct{ start, end int }

// svcLines is what one Service port contributed to the top-level chains in the last
// successful sync, plus the per-Service chains it keeps active. An unchanged Service
// (partial sync, not in State.Changed) copies these instead of rendering them again.
type svcLines struct {
	nat, filter           string
	natLines, filterLines int
	active                []string
}

// topCache is the text of the top-level chains after the last successful sync: a partial
// sync leaves a table's top-level chains out of the payload when their text is unchanged
// (iptables-restore --noflush keeps them as they are).
type topCache struct {
	// nat is the rules of KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING and
	// KUBE-MARK-MASQ in nat; filter is the whole filter section.
	nat, filter string
	services    map[proxy.ServicePortName]*svcLines
}

// natTopText is the concatenation of the renderer's top-level nat spans.
func (r *renderer) natTopText() string {
	all := r.natRules.String()
	n := 0
	for _, s := range r.natTop {
		n += s.end - s.start
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range r.natTop {
		b.WriteString(all[s.start:s.end])
	}
	return b.String()
}

// natRulesWithoutTop is natRules minus the top-level spans.
func (r *renderer) natRulesWithoutTop() string {
	all := r.natRules.String()
	var b strings.Builder
	b.Grow(len(all))
	prev := 0
	for _, s := range r.natTop {
		b.WriteString(all[prev:s.start])
		prev = s.end
	}
	b.WriteString(all[prev:])
	return b.String()
}

// markNatTop records natRules[start:] (up to now) as top-level text.
func (r *renderer) markNatTop(start int) {
	end := r.natRules.b.Len()
	if end == start {
		return
	}
	if n := len(r.natTop); n > 0 && r.natTop[n-1].end == start {
		r.natTop[n-1].end = end
		return
	}
	r.natTop = append(r.natTop, span{start, end})
}
