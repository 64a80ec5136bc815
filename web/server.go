package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/exercises/grade"
)

// StepChecker runs the checks of one exercise step (grade.Grader does).
type StepChecker interface {
	Step(ctx context.Context, ex *exercises.Exercise, step *exercises.Step) grade.StepResult
}

// Options configures a Server. Client and Catalog are required.
type Options struct {
	// Lab is the lab's name (node namespaces are svclab-<lab>-<node>).
	Lab string
	// LabDir is the lab's state directory: progress is kept in its progress.json, shared
	// with `svclab grade` and `svclab exercises` ("" keeps progress in memory only).
	LabDir string
	// Kubeconfig is the lab's kubeconfig, given to terminals as KUBECONFIG.
	Kubeconfig string
	// Client reads the topology (informers).
	Client  kubernetes.Interface
	Catalog *exercises.Catalog
	// Checker runs a step's checks; nil answers Check requests with an error.
	Checker StepChecker
	// Runner runs commands inside a node's network namespace (default: `ip netns exec`).
	Runner Runner
	// Shell starts a terminal's command (default: bash in the node's namespace).
	Shell ShellFunc
	// Binary is the svclab binary traces re-run (default: this program).
	Binary string
	// Token is the access token (default: 32 random bytes, hex).
	Token string
	Log   *slog.Logger
	// Debounce is how long topology changes are collected before a snapshot is sent
	// (default 200ms).
	Debounce time.Duration
}

// Server is the web UI. Start it with Serve, or Start and then serve Handler yourself.
type Server struct {
	opts    Options
	token   string
	log     *slog.Logger
	mux     *http.ServeMux
	topo    *topology
	startMu sync.Once

	progMu   sync.Mutex
	progress grade.Progress
	results  map[string]map[string]grade.StepResult
}

// New validates opts and builds a server.
func New(opts Options) (*Server, error) {
	if opts.Client == nil {
		return nil, errors.New("web: a Kubernetes client is required")
	}
	if opts.Catalog == nil {
		return nil, errors.New("web: an exercise catalogue is required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Runner == nil {
		opts.Runner = NetNSRunner{Lab: opts.Lab}
	}
	if opts.Shell == nil {
		opts.Shell = NetNSShell(opts.Lab, opts.Kubeconfig)
	}
	if opts.Binary == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		opts.Binary = self
	}
	if opts.Debounce == 0 {
		opts.Debounce = 200 * time.Millisecond
	}
	if opts.Token == "" {
		t, err := NewToken()
		if err != nil {
			return nil, err
		}
		opts.Token = t
	}
	s := &Server{
		opts: opts, token: opts.Token, log: opts.Log.With("component", "web"),
		progress: grade.Progress{}, results: map[string]map[string]grade.StepResult{},
	}
	s.topo = newTopology(opts.Client, opts.Debounce, s.log)
	s.mux = s.routes()
	return s, nil
}

// Token is the access token.
func (s *Server) Token() string { return s.token }

// Handler serves the UI (login page, assets, API).
func (s *Server) Handler() http.Handler { return s.mux }

// Start starts the topology informers; they stop when ctx is done. Serve calls it.
func (s *Server) Start(ctx context.Context) {
	s.startMu.Do(func() { s.topo.start(ctx) })
}

// Serve starts the server and serves on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.Start(ctx)
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web UI: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		return nil
	}
}

// URL is the address a person opens: http://ADDR/?token=TOKEN.
func URL(addr, token string) string {
	return "http://" + addr + "/?token=" + token
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.Handle("GET /static/", s.authed(staticHandler()))
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authed(h)) }
	api("GET /api/exercises", s.listExercises)
	api("GET /api/exercises/{id}", s.getExercise)
	api("POST /api/exercises/{id}/steps/{step}/check", s.checkStep)
	api("GET /api/topology", s.getTopology)
	api("GET /api/topology/events", s.topologyEvents)
	api("GET /api/nodes/{node}/rules", s.nodeRules)
	api("GET /api/trace", s.trace)
	api("GET /api/terminal", s.terminal)
	mux.Handle("/api/", s.authed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})))
	return mux
}
