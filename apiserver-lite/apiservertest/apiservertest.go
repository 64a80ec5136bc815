// Package apiservertest starts a real svclab API server (and optionally its controllers)
// for tests, on a free loopback port with its state in a temporary directory.
package apiservertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	apiserver "github.com/svclab/svclab/apiserver-lite"
	"github.com/svclab/svclab/lab/controller"
)

// Server is a running API server.
type Server struct {
	*apiserver.Server
	// Client is an admin clientset.
	Client kubernetes.Interface
	// DataDir is the server's data directory (reuse it with Options.DataDir to restart).
	DataDir string
	stop    context.CancelFunc
	done    chan struct{}
}

// Options tunes Start.
type Options struct {
	// DataDir reuses an existing data directory (a restart); empty means a new temp dir.
	DataDir string
	// Controllers also runs the node-less controllers.
	Controllers bool
	// Listen overrides the address (default 127.0.0.1:0).
	Listen string
}

// Start runs a server until the test ends (or Stop is called).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	opts := apiserver.DefaultOptions()
	opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.Listen = "127.0.0.1:0"
	if o.Listen != "" {
		opts.Listen = o.Listen
	}
	opts.DataDir = o.DataDir
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := apiserver.New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("start API server: %v", err)
	}
	s := &Server{Server: srv, DataDir: opts.DataDir, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := srv.Run(ctx); err != nil {
			t.Logf("API server stopped: %v", err)
		}
	}()
	readyCtx, readyCancel := context.WithTimeout(ctx, 60*time.Second)
	defer readyCancel()
	if err := srv.WaitReady(readyCtx); err != nil {
		s.Stop()
		t.Fatalf("API server not ready: %v", err)
	}
	if s.Client, err = kubernetes.NewForConfig(srv.AdminConfig); err != nil {
		s.Stop()
		t.Fatal(err)
	}
	if o.Controllers {
		go func() {
			_ = controller.Run(ctx, srv.AdminConfig, opts.Log, controller.Options{RootCA: srv.Bundle.CAPEM})
		}()
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server and waits until etcd has shut down. It is safe to call twice.
func (s *Server) Stop() {
	s.stop()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
	}
}
