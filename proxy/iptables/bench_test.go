package iptables

import (
	"context"
	"fmt"
	"testing"

	"github.com/svclab/svclab/proxy"
	pt "github.com/svclab/svclab/proxy/proxytest"
)

// discard is an ipt.Interface that accepts everything, so benchmarks time rendering only.
type discard struct{}

func (discard) Restore(context.Context, []byte) error                       { return nil }
func (discard) Save(context.Context, string) ([]byte, error)                { return nil, nil }
func (discard) DeleteRule(context.Context, string, string, ...string) error { return nil }
func (discard) EnsureRule(context.Context, string, string, ...string) (bool, error) {
	return true, nil
}

// manyServices feeds n ClusterIP Services with two endpoints each.
func manyServices(n int) *proxy.Tracker {
	tr := proxy.NewTracker(pt.NodeName, nil)
	for i := range n {
		name := fmt.Sprintf("svc%d", i)
		pt.Feed(tr,
			pt.Service("bench", name, fmt.Sprintf("172.30.%d.%d", i/256, i%256), pt.Port("p80", 80, tcp)),
			pt.Slice("bench", name, "p80", 80, tcp,
				pt.EP{IP: fmt.Sprintf("10.1.%d.%d", i/256, i%256), Node: "node2"}, pt.EP{IP: fmt.Sprintf("10.2.%d.%d", i/256, i%256), Node: "node3"}))
	}
	return tr
}

// BenchmarkRender10000 times a full and a one-Service partial sync at 10,000 Services
// (the payload only; the kernel's iptables-restore time comes on top).
func BenchmarkRender10000(b *testing.B) {
	tr := manyServices(10000)
	full := tr.Apply()
	p, _ := New(pt.Config(), discard{}, nil)
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			full.Full = true
			_ = p.Sync(context.Background(), full)
		}
	})
	pt.Feed(tr, pt.Slice("bench", "svc7", "p80", 80, tcp, pt.EP{IP: "10.1.0.7", Node: "node2"}))
	partial := tr.Apply()
	b.Run("partial", func(b *testing.B) {
		for b.Loop() {
			_ = p.Sync(context.Background(), partial)
		}
	})
}
