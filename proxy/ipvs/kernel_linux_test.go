package ipvs

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCheckKernelWithoutIPVS runs where the kernel lacks IPVS (this machine): the error
// is ErrNoIPVS and says what to do.
func TestCheckKernelWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS loaded (/proc/net/ip_vs exists)")
	}
	err := CheckKernel()
	if _, statErr := os.Stat("/proc/net/ip_vs"); statErr == nil {
		if err != nil {
			t.Fatalf("modprobe ip_vs loaded IPVS but CheckKernel failed: %v", err)
		}
		t.Skip("modprobe ip_vs loaded IPVS on this kernel")
	}
	if !errors.Is(err, ErrNoIPVS) {
		t.Fatalf("CheckKernel() = %v, want ErrNoIPVS", err)
	}
	for _, want := range []string{"no IP Virtual Server support", "CONFIG_IP_VS", "modprobe ip_vs", "--proxy-mode=iptables"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	t.Logf("CheckKernel: %v", err)
}
