package lab

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/svclab/svclab/proxy/ipvs"
)

// proxyModeChecks are what each kube-proxy mode needs of the host, checked before up
// changes anything.
var proxyModeChecks = map[string]func() error{
	"iptables":  needTools("iptables-restore", "iptables-save", "iptables"),
	"nftables":  needTools("nft"),
	"ipvs":      ipvsKernelCheck,
	"userspace": needTools("iptables-restore", "iptables-save", "iptables"),
}

// ipvsKernelCheck refuses the ipvs mode on a kernel without IP Virtual Server support,
// with the fix in the message.
func ipvsKernelCheck() error {
	if err := needTools("ipset", "iptables-restore")(); err != nil {
		return err
	}
	return ipvs.CheckKernel()
}

func needTools(tools ...string) func() error {
	return func() error {
		for _, t := range tools {
			if _, err := exec.LookPath(t); err != nil {
				return fmt.Errorf("%s is not installed (sudo make deps, or apt-get install iptables nftables ipset)", t)
			}
		}
		return nil
	}
}

// apiPort is the API server's port.
func (l *Lab) apiPort() int {
	u, err := url.Parse(l.srv.URL)
	if err != nil {
		return 6443
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

// waitKubeProxy waits until kube-proxy runs Ready on every node.
func (l *Lab) waitKubeProxy(ctx context.Context) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		ds, err := l.client.AppsV1().DaemonSets(metav1.NamespaceSystem).Get(ctx, "kube-proxy", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = fmt.Sprintf("%d of %d ready", ds.Status.NumberReady, l.opts.Nodes)
		return ds.Status.NumberReady == int32(l.opts.Nodes) && ds.Status.ObservedGeneration == ds.Generation, nil
	})
	if err != nil {
		return fmt.Errorf("kube-proxy did not become ready (%s; see `svclab kubectl -n kube-system logs ds/kube-proxy`): %w", last, err)
	}
	return nil
}
