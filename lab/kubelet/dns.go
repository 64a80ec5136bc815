package kubelet

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

func (k *Kubelet) hostsPath(pod *corev1.Pod) string {
	return filepath.Join(k.podDir(pod.UID), "etc-hosts")
}

func (k *Kubelet) resolvPath(pod *corev1.Pod) string {
	return filepath.Join(k.podDir(pod.UID), "resolv.conf")
}

// writeNetworkFiles writes the pod's /etc/hosts and /etc/resolv.conf.
func (k *Kubelet) writeNetworkFiles(pod *corev1.Pod, ip netip.Addr) error {
	hosts, err := k.hostsFile(pod, ip)
	if err != nil {
		return err
	}
	if err := writeAtomic(k.hostsPath(pod), hosts, 0o644); err != nil {
		return err
	}
	resolv, err := k.resolvConf(pod)
	if err != nil {
		return err
	}
	return writeAtomic(k.resolvPath(pod), resolv, 0o644)
}

// hostsFile is the /etc/hosts kubelet writes: the managed file with the pod's own name, or the
// node's file for hostNetwork pods, then spec.hostAliases.
func (k *Kubelet) hostsFile(pod *corev1.Pod, ip netip.Addr) ([]byte, error) {
	var b bytes.Buffer
	if pod.Spec.HostNetwork {
		path := k.cfg.HostsFile
		if path == "" {
			path = "/etc/hosts"
		}
		host, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read the node's hosts file: %w", err)
		}
		b.WriteString("# Kubernetes-managed hosts file (host network).\n")
		b.Write(host)
	} else {
		b.WriteString("# Kubernetes-managed hosts file.\n")
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		if ip.IsValid() {
			name := k.podHostname(pod)
			if pod.Spec.Subdomain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, name, pod.Spec.Subdomain, pod.Namespace, k.cfg.ClusterDomain, name)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", ip, name)
			}
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.Bytes(), nil
}

// resolvConfig is a parsed resolv.conf.
type resolvConfig struct {
	nameservers, searches, options []string
}

// resolvConf builds the pod's resolv.conf per dnsPolicy and dnsConfig, as upstream's
// dns.Configurer.GetPodDNS, in the order containerd writes it.
func (k *Kubelet) resolvConf(pod *corev1.Pod) ([]byte, error) {
	host, err := k.hostResolv()
	if err != nil {
		return nil, err
	}
	var rc resolvConfig
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	clusterFirst := policy == corev1.DNSClusterFirstWithHostNet ||
		policy == corev1.DNSClusterFirst && !pod.Spec.HostNetwork
	switch {
	case policy == corev1.DNSNone:
	case clusterFirst && k.cfg.ClusterDNS.IsValid():
		d := k.cfg.ClusterDomain
		rc.nameservers = []string{k.cfg.ClusterDNS.String()}
		rc.searches = append([]string{pod.Namespace + ".svc." + d, "svc." + d, d}, host.searches...)
		rc.options = []string{"ndots:5"}
	default:
		// Default, ClusterFirst for hostNetwork pods, or no cluster DNS configured.
		rc = host
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		rc.nameservers = append(rc.nameservers, dc.Nameservers...)
		rc.searches = append(rc.searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			rc.options = slices.DeleteFunc(rc.options, func(s string) bool {
				name, _, _ := strings.Cut(s, ":")
				return name == o.Name
			})
			rc.options = append(rc.options, opt)
		}
	}
	rc.nameservers = dedupe(rc.nameservers)
	if len(rc.nameservers) > 3 {
		rc.nameservers = rc.nameservers[:3]
	}
	rc.searches = dedupe(rc.searches)
	if len(rc.searches) > 32 {
		rc.searches = rc.searches[:32]
	}
	var b bytes.Buffer
	if len(rc.searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.searches, " "))
	}
	for _, ns := range rc.nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.options, " "))
	}
	return b.Bytes(), nil
}

// hostResolv reads the node's resolver configuration. A file that only names a local stub
// (systemd-resolved's 127.0.0.53) is useless inside a pod namespace, so the stub's upstream
// file is used instead when it exists.
func (k *Kubelet) hostResolv() (resolvConfig, error) {
	path := k.cfg.HostResolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	rc, err := readResolv(path)
	if err != nil {
		if os.IsNotExist(err) && k.cfg.HostResolvConf == "" {
			return resolvConfig{}, nil
		}
		return resolvConfig{}, fmt.Errorf("read host resolv.conf: %w", err)
	}
	if k.cfg.HostResolvConf == "" && onlyLoopback(rc.nameservers) {
		if up, err := readResolv("/run/systemd/resolve/resolv.conf"); err == nil {
			return up, nil
		}
	}
	return rc, nil
}

func readResolv(path string) (resolvConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return resolvConfig{}, err
	}
	var rc resolvConfig
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.nameservers = append(rc.nameservers, f[1])
		case "search", "domain":
			// The last search or domain line wins.
			rc.searches = append([]string{}, f[1:]...)
		case "options":
			rc.options = append(rc.options, f[1:]...)
		}
	}
	return rc, nil
}

func onlyLoopback(servers []string) bool {
	if len(servers) == 0 {
		return false
	}
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.IsLoopback() {
			return false
		}
	}
	return true
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSuffix(s, ".")
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
