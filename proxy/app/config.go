package app

import (
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/svclab/svclab/lab/podpath"
)

// Config is the part of kube-proxy's KubeProxyConfiguration (kubeproxy.config.k8s.io/
// v1alpha1) svclab reads, so a kubeadm-style `kube-system/kube-proxy` ConfigMap works.
type Config struct {
	APIVersion       string `json:"apiVersion,omitempty"`
	Kind             string `json:"kind,omitempty"`
	ClientConnection struct {
		Kubeconfig string `json:"kubeconfig,omitempty"`
	} `json:"clientConnection,omitempty"`
	Mode               string   `json:"mode,omitempty"`
	ClusterCIDR        string   `json:"clusterCIDR,omitempty"`
	HostnameOverride   string   `json:"hostnameOverride,omitempty"`
	MetricsBindAddress string   `json:"metricsBindAddress,omitempty"`
	HealthzBindAddress string   `json:"healthzBindAddress,omitempty"`
	NodePortAddresses  []string `json:"nodePortAddresses,omitempty"`
	IPTables           struct {
		MasqueradeAll bool            `json:"masqueradeAll,omitempty"`
		MasqueradeBit *int32          `json:"masqueradeBit,omitempty"`
		MinSyncPeriod metav1.Duration `json:"minSyncPeriod,omitempty"`
		SyncPeriod    metav1.Duration `json:"syncPeriod,omitempty"`
	} `json:"iptables,omitempty"`
	IPVS struct {
		Scheduler string `json:"scheduler,omitempty"`
	} `json:"ipvs,omitempty"`
}

// Modes lists the proxy modes, in the order `--proxy-mode` documents them.
var Modes = []string{"iptables", "nftables", "ipvs", "userspace"}

// Defaults fills what neither the file nor the flags set, with upstream's defaults.
func (c *Config) Defaults() {
	if c.Mode == "" {
		c.Mode = "iptables"
	}
	if c.MetricsBindAddress == "" {
		c.MetricsBindAddress = "127.0.0.1:10249"
	}
	if c.HealthzBindAddress == "" {
		c.HealthzBindAddress = "0.0.0.0:10256"
	}
	if c.IPTables.MasqueradeBit == nil {
		bit := int32(14)
		c.IPTables.MasqueradeBit = &bit
	}
	if c.IPTables.SyncPeriod.Duration == 0 {
		c.IPTables.SyncPeriod.Duration = 30 * time.Second
	}
	if c.IPVS.Scheduler == "" {
		c.IPVS.Scheduler = "rr"
	}
}

// Validate names the setting to fix.
func (c *Config) Validate() error {
	for _, m := range Modes {
		if c.Mode == m {
			return nil
		}
	}
	return fmt.Errorf("unknown proxy mode %q: choose iptables, nftables, ipvs or userspace", c.Mode)
}

// LoadConfig reads a KubeProxyConfiguration file (translated for the process runtime).
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(podpath.Host(path))
	if err != nil {
		return nil, fmt.Errorf("read kube-proxy configuration: %w", err)
	}
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		// Unknown fields of the full upstream type are fine; only bad values are not.
		if err2 := yaml.Unmarshal(data, &c); err2 != nil {
			return nil, fmt.Errorf("parse kube-proxy configuration %s: %w", path, err2)
		}
	}
	if c.Kind != "" && c.Kind != "KubeProxyConfiguration" {
		return nil, fmt.Errorf("%s: kind is %q, want KubeProxyConfiguration", path, c.Kind)
	}
	return &c, nil
}
