package main

import (
	"time"

	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/grade"
	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/web"
)

type webFlags struct {
	name, listen, exercisesDir, token string
}

// newWebCmd is the hidden `svclab web`: the UI of a running lab served by a separate
// process (development and tests; `svclab up` serves it itself).
func newWebCmd(logger func() *slog.Logger) *cobra.Command {
	f := &webFlags{name: lab.DefaultName, listen: "127.0.0.1:8080"}
	cmd := &cobra.Command{
		Use:    "web --name LAB --listen ADDR",
		Short:  "Serve the web UI of a running lab (svclab up does this itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWeb(cmd.Context(), cmd.OutOrStdout(), logger(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", f.name, "lab name")
	fl.StringVar(&f.listen, "listen", f.listen, "address to serve the UI on (port 0: any free port)")
	fl.StringVar(&f.exercisesDir, "exercises-dir", "", "more exercises (a folder of exercise folders; same IDs replace built-in ones)")
	fl.StringVar(&f.token, "token", "", "access token (default: a random one)")
	return cmd
}

func runWeb(ctx context.Context, out io.Writer, log *slog.Logger, f *webFlags) error {
	paths := lab.PathsFor(f.name)
	if _, err := os.Stat(paths.Kubeconfig()); err != nil {
		return fmt.Errorf("lab %q is not running (no %s): start it with `sudo svclab up --name %s`", f.name, paths.Kubeconfig(), f.name)
	}
	ln, err := listenWeb("--listen", f.listen)
	if err != nil {
		return err
	}
	srv, err := newWebServer(f.name, paths, f.exercisesDir, f.token, log)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(out, "Web UI: %s\n", web.URL(ln.Addr().String(), srv.Token()))
	return srv.Serve(ctx, ln)
}

// listenWeb opens the UI's listener before anything else changes, so a taken address is
// refused up front, naming the fix.
func listenWeb(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s %s: the address is taken (another lab's UI or another program): choose another address, e.g. %s 127.0.0.1:8081, or turn the UI off with %s=off", flag, addr, flag, flag)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	return ln, nil
}

// newWebServer builds the UI of the lab whose state is at paths.
func newWebServer(name string, paths lab.Paths, exercisesDir, token string, log *slog.Logger) (*web.Server, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", paths.Kubeconfig())
	if err != nil {
		return nil, fmt.Errorf("read the lab's kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	catalog, err := exercises.Load(exercisesDir)
	if err != nil {
		return nil, err
	}
	grader, err := grade.New(grade.Options{Kubeconfig: paths.Kubeconfig(), Lab: name, MaxWithin: webCheckWithin})
	if err != nil {
		return nil, fmt.Errorf("start the grader: %w", err)
	}
	return web.New(web.Options{
		Lab: name, LabDir: paths.Dir, Kubeconfig: paths.Kubeconfig(), Client: client,
		Catalog: catalog, Checker: grader, Token: token, Log: log,
	})
}

// startLabWeb serves the UI of the lab `svclab up` just started on ln, records its URL
// for `svclab status`, and returns the URL and a channel closed when the server stopped.
func startLabWeb(ctx context.Context, name, exercisesDir string, ln net.Listener, log *slog.Logger) (string, <-chan struct{}, error) {
	paths := lab.PathsFor(name)
	srv, err := newWebServer(name, paths, exercisesDir, "", log)
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	if err := web.WriteAccess(paths.Dir, addr, srv.Token()); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("web UI stopped", "err", err)
		}
	}()
	return web.URL(addr, srv.Token()), done, nil
}

// webCheckWithin caps how long the UI's Check button lets a check wait for the lab to
// converge: a learner should see a miss, with its hint, in seconds.
const webCheckWithin = 5 * time.Second
