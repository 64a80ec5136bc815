package lab

import (
	"path/filepath"

	"github.com/svclab/svclab/lab/runtime/process"
)

// ExternalDir holds the pid and log files of the lab's external apps (`svclab external run`):
// /run/svclab/<lab>/external/<name>.{pid,log}.
func (p Paths) ExternalDir() string { return filepath.Join(p.Dir, "external") }

// ExternalEnv is the environment entry that marks an external app as the lab's process
// (process.CookieEnv=<lab>/external/<name>), so `svclab down` kills it with the pods.
func ExternalEnv(lab, name string) string {
	return process.CookieEnv + "=" + lab + "/external/" + name
}
