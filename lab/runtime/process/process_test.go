package process

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

func TestContainerArgs(t *testing.T) {
	cfg, _ := image.ConfigFor("svclab.local/agent:v1")
	tests := []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image defaults", nil, nil, []string{"/svclab", "pod-agent"}},
		{"args replace cmd", nil, []string{"pod-agent", "--port=8080"}, []string{"/svclab", "pod-agent", "--port=8080"}},
		{"command replaces both", []string{"/svclab", "dns"}, nil, []string{"/svclab", "dns"}},
		{"command and args", []string{"/usr/sbin/iptables-save"}, []string{"-t", "nat"}, []string{"/usr/sbin/iptables-save", "-t", "nat"}},
	}
	for _, tt := range tests {
		if got := containerArgs(cfg, tt.command, tt.args); !slices.Equal(got, tt.want) {
			t.Errorf("%s: containerArgs = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1"}, []string{"A=2", "B=3"})
	if want := []string{"PATH=/bin", "A=2", "B=3"}; !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestResolve(t *testing.T) {
	r := &Runtime{binary: "/opt/svclab"}
	tests := []struct {
		name, want string
		env        []string
		err        bool
	}{
		{name: "/svclab", want: "/opt/svclab"},
		{name: "svclab", want: "/opt/svclab"},
		{name: "/bin/sh", want: "/bin/sh"},
		{name: "sh", env: []string{"PATH=/bin"}, want: "/bin/sh"},
		{name: "/no/such/program", err: true},
		{name: "./relative", err: true},
		{name: "no-such-program-svclab", err: true},
	}
	for _, tt := range tests {
		got, err := r.resolve(tt.name, tt.env)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("resolve(%q) = %q, %v; want %q (error %v)", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestEnsureImage(t *testing.T) {
	r := &Runtime{}
	for _, ref := range []string{"svclab.local/agent:v1", "svclab/agent:v2", "svclab.local/agent"} {
		if err := r.EnsureImage(context.Background(), ref); err != nil {
			t.Errorf("EnsureImage(%s): %v", ref, err)
		}
	}
	err := r.EnsureImage(context.Background(), "nginx:1.25")
	if !errors.Is(err, runtime.ErrImageNotFound) || !strings.Contains(err.Error(), "the process runtime runs only the built-in svclab images") {
		t.Errorf("EnsureImage(nginx) = %v", err)
	}
}

func TestHasEnvEntry(t *testing.T) {
	env := []byte("PATH=/bin\x00SVCLAB_PROCESS=lab/ct-1\x00")
	tests := []struct {
		lab  string
		want bool
	}{{"lab", true}, {"la", false}, {"lab2", false}}
	for _, tt := range tests {
		if got := hasEnvEntry(env, []byte(CookieEnv+"="+tt.lab+"/")); got != tt.want {
			t.Errorf("hasEnvEntry(lab %q) = %v", tt.lab, got)
		}
	}
}

func TestNewRejectsBadLab(t *testing.T) {
	if _, err := New("a/b", t.TempDir(), nil); err == nil {
		t.Error("New accepted a lab name with a slash")
	}
}
