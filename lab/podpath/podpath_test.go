package podpath

import "testing"

func TestHostFrom(t *testing.T) {
	mounts := "/var/lib/svclab/x/vol/cfg:/var/lib/kube-proxy:ro,/run/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro,/h:/var"
	for in, want := range map[string]string{
		"/var/lib/kube-proxy/config.conf":                     "/var/lib/svclab/x/vol/cfg/config.conf",
		"/var/run/secrets/kubernetes.io/serviceaccount/token": "/run/sa/token",
		"/var/other":      "/h/other",
		"/etc/hosts":      "/etc/hosts",
		"/var/lib/kube-p": "/h/lib/kube-p",
	} {
		if got := hostFrom(mounts, in); got != want {
			t.Errorf("hostFrom(%s) = %s, want %s", in, got, want)
		}
	}
	if got := hostFrom("", "/a"); got != "/a" {
		t.Errorf("no mounts: %s", got)
	}
}
