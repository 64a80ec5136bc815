// Command svclab runs a Kubernetes Service-networking lab; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		var ec *exitCodeError
		if errors.As(err, &ec) && ec.err == nil {
			os.Exit(ec.code) // the command has reported already (svclab grade: a check failed)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		if ec != nil {
			os.Exit(ec.code)
		}
		os.Exit(1)
	}
}

// exitCodeError makes the process exit with code; err (when not nil) is printed first.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }
