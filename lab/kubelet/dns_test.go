package kubelet

import (
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  corev1.DNSPolicy
		hostNet bool
		config  *corev1.PodDNSConfig
		want    string
	}{
		{name: "ClusterFirst", policy: corev1.DNSClusterFirst,
			want: "search team-a.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n"},
		{name: "ClusterFirst on the host network falls back to Default", policy: corev1.DNSClusterFirst, hostNet: true,
			want: "search corp.example\nnameserver 192.0.2.53\noptions edns0\n"},
		{name: "ClusterFirstWithHostNet", policy: corev1.DNSClusterFirstWithHostNet, hostNet: true,
			want: "search team-a.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n"},
		{name: "Default", policy: corev1.DNSDefault,
			want: "search corp.example\nnameserver 192.0.2.53\noptions edns0\n"},
		{name: "None with dnsConfig", policy: corev1.DNSNone, config: &corev1.PodDNSConfig{
			Nameservers: []string{"192.0.2.1"}, Searches: []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}},
			want: "search ns1.svc.cluster-domain.example my.dns.search.suffix\nnameserver 192.0.2.1\noptions ndots:2 edns0\n"},
		{name: "ClusterFirst with dnsConfig override", policy: corev1.DNSClusterFirst, config: &corev1.PodDNSConfig{
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}}},
			want: "search team-a.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			pod := testPod("dns", func(p *corev1.Pod) {
				p.Namespace = "team-a"
				p.Spec.DNSPolicy = tc.policy
				p.Spec.HostNetwork = tc.hostNet
				p.Spec.DNSConfig = tc.config
			})
			got, err := h.k.resolvConf(pod)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("resolv.conf =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("hosts", func(p *corev1.Pod) {
		p.Spec.Hostname = "web-0"
		p.Spec.Subdomain = "web"
		p.Spec.HostAliases = []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}}}
	}))
	h.sync(w)
	m, ok := mountAt(h.rt.Running()["app"], "/etc/hosts")
	if !ok {
		t.Fatal("no /etc/hosts mount")
	}
	want := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n" +
		"10.245.1.2\tweb-0.web.default.svc.cluster.local\tweb-0\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n"
	if got := readFile(t, m.HostPath); got != want {
		t.Errorf("hosts =\n%s\nwant\n%s", got, want)
	}
	if spec := h.rt.Running()["app"]; spec.Hostname != "web-0" {
		t.Errorf("hostname = %q", spec.Hostname)
	}
	r, _ := mountAt(h.rt.Running()["app"], "/etc/resolv.conf")
	if filepath.Base(r.HostPath) != "resolv.conf" {
		t.Errorf("resolv.conf mount = %+v", r)
	}

	// hostNetwork pods get the node's file, the node namespace and the node IP.
	hn := h.start(testPod("hostnet", func(p *corev1.Pod) { p.Spec.HostNetwork = true }))
	h.sync(hn)
	hostSpec := h.rt.RunningPod("hostnet")["app"]
	if hostSpec.NetNSPath != "/run/netns/svclab-t-node-1" || hostSpec.Hostname != "node-1" {
		t.Errorf("hostNetwork spec = %+v", hostSpec)
	}
	hm, _ := mountAt(hostSpec, "/etc/hosts")
	if got := readFile(t, hm.HostPath); got != "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n" {
		t.Errorf("host network hosts = %q", got)
	}
	if ip := h.pod("hostnet").Status.PodIP; ip != "172.31.7.11" {
		t.Errorf("hostNetwork podIP = %q", ip)
	}
}
