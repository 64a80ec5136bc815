// Package podpath translates the paths a pod's program expects (its volume mounts) to the
// host paths behind them when the program runs under the process runtime, which has no
// mount namespace and passes the mounts in $SVCLAB_MOUNTS instead.
package podpath

import (
	"os"
	"path/filepath"
	"strings"
)

// Env is the variable the process runtime sets: "hostPath:containerPath[:ro]" entries
// separated by commas.
const Env = "SVCLAB_MOUNTS"

// Host returns the host path for p: p itself outside the process runtime or outside any
// mount, otherwise the mounted host path joined with the rest of p.
func Host(p string) string {
	return hostFrom(os.Getenv(Env), p)
}

func hostFrom(mounts, p string) string {
	best, bestHost := "", ""
	for _, m := range strings.Split(mounts, ",") {
		parts := strings.Split(m, ":")
		if len(parts) < 2 {
			continue
		}
		host, ctr := parts[0], filepath.Clean(parts[1])
		if (p == ctr || strings.HasPrefix(p, ctr+"/")) && len(ctr) > len(best) {
			best, bestHost = ctr, host
		}
	}
	if best == "" {
		return p
	}
	return filepath.Join(bestHost, strings.TrimPrefix(p, best))
}
