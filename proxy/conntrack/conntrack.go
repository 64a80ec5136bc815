// Package conntrack flushes stale UDP conntrack entries after a sync, through the
// conntrack tool, so UDP clients (DNS above all) stop sending to endpoints that are gone.
package conntrack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/svclab/svclab/proxy"
)

// Flusher removes conntrack entries.
type Flusher interface {
	// Flush deletes the UDP entries each request names; entries that do not exist are not
	// an error.
	Flush(ctx context.Context, stale []proxy.StaleUDP) error
}

// Exec runs the conntrack tool in the caller's network namespace.
type Exec struct{}

var _ Flusher = Exec{}

// Args returns the conntrack deletions for one request: the ClusterIP flow, and the
// NodePort flows when the port has one.
func Args(s proxy.StaleUDP) [][]string {
	base := []string{"-D", "-p", "udp"}
	var out [][]string
	svc := append(append([]string{}, base...), "--orig-dst", s.ServiceIP.String())
	if s.Port != 0 {
		svc = append(svc, "--dport", strconv.Itoa(s.Port))
	}
	if s.EndpointIP.IsValid() {
		svc = append(svc, "--dst-nat", s.EndpointIP.String())
	}
	out = append(out, svc)
	if s.NodePort != 0 {
		np := append(append([]string{}, base...), "--dport", strconv.Itoa(s.NodePort))
		if s.EndpointIP.IsValid() {
			np = append(np, "--dst-nat", s.EndpointIP.String())
		}
		out = append(out, np)
	}
	return out
}

// Flush implements Flusher.
func (Exec) Flush(ctx context.Context, stale []proxy.StaleUDP) error {
	if len(stale) == 0 {
		return nil
	}
	if _, err := exec.LookPath("conntrack"); err != nil {
		return errors.New("the conntrack tool is missing, so stale UDP flows cannot be flushed: install it (apt-get install conntrack)")
	}
	var errs []error
	for _, s := range stale {
		for _, args := range Args(s) {
			var out bytes.Buffer
			cmd := exec.CommandContext(ctx, "conntrack", args...)
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			// conntrack exits 1 when nothing matched ("0 flow entries have been deleted").
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && strings.Contains(out.String(), "0 flow entries")) {
				errs = append(errs, fmt.Errorf("conntrack %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String())))
			}
		}
	}
	return errors.Join(errs...)
}
