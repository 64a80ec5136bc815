// Package ipt is the iptables touchpoint every mode shares: restore a table's rules in one
// `iptables-restore --noflush` call, read them back with `iptables-save`, and keep the
// few jump rules in built-in chains in place. A recording fake is in ipttest.
package ipt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Interface is what a proxy mode needs of iptables.
type Interface interface {
	// Restore feeds data (iptables-save format, one or more tables, each ending in COMMIT)
	// to `iptables-restore --noflush`: chains declared in data are flushed and rewritten,
	// everything else in the tables stays.
	Restore(ctx context.Context, data []byte) error
	// Save returns `iptables-save -t table` (all tables when table is "").
	Save(ctx context.Context, table string) ([]byte, error)
	// EnsureRule inserts rule (the arguments after `-A chain`) at the top of a built-in
	// chain unless it is already there; it reports whether it already existed.
	EnsureRule(ctx context.Context, table, chain string, rule ...string) (bool, error)
	// DeleteRule removes rule from chain if present.
	DeleteRule(ctx context.Context, table, chain string, rule ...string) error
}

// Exec runs the host's iptables tools in the caller's network namespace.
type Exec struct {
	// Prefix is prepended to every command (e.g. `ip netns exec NAME` in tests); empty runs
	// the tools directly.
	Prefix []string
}

var _ Interface = (*Exec)(nil)

// Error is a failed iptables command with its output, so an iptables-restore line error
// reaches the user verbatim.
type Error struct {
	Cmd    string
	Output string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, strings.TrimSpace(e.Output))
}

func (e *Error) Unwrap() error { return e.Err }

func (x *Exec) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	full := append(append([]string{}, x.Prefix...), args...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &Error{Cmd: strings.Join(args, " "), Output: stderr.String() + stdout.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// Restore implements Interface.
func (x *Exec) Restore(ctx context.Context, data []byte) error {
	_, err := x.run(ctx, data, "iptables-restore", "--noflush", "-w", "5")
	return err
}

// Save implements Interface.
func (x *Exec) Save(ctx context.Context, table string) ([]byte, error) {
	if table == "" {
		return x.run(ctx, nil, "iptables-save")
	}
	return x.run(ctx, nil, "iptables-save", "-t", table)
}

// EnsureRule implements Interface.
func (x *Exec) EnsureRule(ctx context.Context, table, chain string, rule ...string) (bool, error) {
	check := append([]string{"iptables", "-w", "5", "-t", table, "-C", chain}, rule...)
	if _, err := x.run(ctx, nil, check...); err == nil {
		return true, nil
	} else if !isExit(err, 1) {
		// Exit status 1 means "no such rule"; anything else (e.g. 2: bad rule or missing
		// chain) is a real error.
		return false, err
	}
	insert := append([]string{"iptables", "-w", "5", "-t", table, "-I", chain}, rule...)
	_, err := x.run(ctx, nil, insert...)
	return false, err
}

// DeleteRule implements Interface.
func (x *Exec) DeleteRule(ctx context.Context, table, chain string, rule ...string) error {
	for {
		del := append([]string{"iptables", "-w", "5", "-t", table, "-D", chain}, rule...)
		if _, err := x.run(ctx, nil, del...); err != nil {
			if isExit(err, 1) || isExit(err, 2) {
				return nil // gone (or the chain is gone)
			}
			return err
		}
	}
}

func isExit(err error, code int) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}
