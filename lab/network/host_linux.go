package network

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// BridgeNetfilter reports whether bridged IPv4 traffic passes the host's iptables (the
// br_netfilter module with net.bridge.bridge-nf-call-iptables=1, as Docker sets it). Then
// node-to-node traffic on the lab bridge crosses the host's FORWARD chain, and a DROP policy
// there (Docker's) breaks it unless a rule accepts -i <bridge> -o <bridge>. This package
// changes no host sysctl; the lab layer decides what to do about it.
func BridgeNetfilter() (bool, error) {
	data, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // br_netfilter is not loaded
	} else if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(data)) == "1", nil
}
