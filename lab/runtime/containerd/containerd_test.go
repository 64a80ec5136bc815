package containerd

import (
	"strings"
	"testing"
	"time"
)

func TestNamespace(t *testing.T) {
	tests := map[string]string{"": "svclab", "svclab": "svclab", "default": "svclab", "class1": "svclab-class1"}
	for lab, want := range tests {
		if got := Namespace(lab); got != want {
			t.Errorf("Namespace(%q) = %q, want %q", lab, got, want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Lab: "demo"}
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if o.StateDir != "/run/svclab/demo/containerd" || o.RootDir != "/var/lib/svclab/demo/containerd" || o.ResolveTimeout != 5*time.Second {
		t.Errorf("defaults = %+v", o)
	}
	for _, bad := range []string{"", "a/b", "a b"} {
		o := Options{Lab: bad}
		if err := o.setDefaults(); err == nil {
			t.Errorf("lab %q accepted", bad)
		}
	}
}

func TestDaemonConfig(t *testing.T) {
	d := &daemon{stateDir: "/run/svclab/x/containerd/daemon", rootDir: "/var/lib/svclab/x/containerd"}
	cfg := d.config()
	for _, want := range []string{
		`version = 2`,
		`root = "/var/lib/svclab/x/containerd/root"`,
		`state = "/run/svclab/x/containerd/daemon/state"`,
		`address = "/run/svclab/x/containerd/daemon/containerd.sock"`,
		`"io.containerd.grpc.v1.cri"`, `"io.containerd.nri.v1.nri"`, `"io.containerd.cri.v1.runtime"`,
		`path = "/var/lib/svclab/x/containerd/opt"`, // not /opt/containerd
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/a/b`: "/a/b", `/a\040b`: "/a b", `/a\134b`: `/a\b`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
