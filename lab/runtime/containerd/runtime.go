package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	ctdlog "github.com/containerd/log"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/runtime"
)

type describeResult struct {
	im   *image.Image
	err  error
	took time.Duration
}

var _ runtime.Runtime = (*Runtime)(nil)

// Options configures a containerd runtime.
type Options struct {
	// Lab is the lab name; it names the containerd namespace and cgroup parent (see Namespace).
	Lab string
	// StateDir holds what lives only while the lab runs: the private daemon's socket, config,
	// pid and state, runc's state, exec FIFOs (normally /run/svclab/<lab>/containerd).
	StateDir string
	// RootDir holds the private daemon's content, snapshots and metadata
	// (default /var/lib/svclab/<lab>/containerd).
	RootDir string
	// Socket is an existing containerd's socket. Empty: DefaultSocket when it answers,
	// otherwise a private daemon.
	Socket string
	// Private always starts a private daemon, ignoring Socket.
	Private bool
	// ContainerdBinary is the containerd executable for a private daemon (default: from PATH).
	ContainerdBinary string
	// Binary is the svclab binary the built-in image is made of (default: the running executable).
	Binary string
	// ResolveTimeout bounds the registry lookup of an image that is not present (default 5s):
	// offline, EnsureImage fails after at most this long.
	ResolveTimeout time.Duration
	// PullTimeout bounds a whole pull once the registry answered (default 5m).
	PullTimeout time.Duration
	// Log receives the runtime's logs (discarded when nil).
	Log *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Lab == "" || strings.ContainsAny(o.Lab, "/ ") {
		return fmt.Errorf("invalid lab name %q", o.Lab)
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join("/run/svclab", o.Lab, "containerd")
	}
	if o.RootDir == "" {
		o.RootDir = filepath.Join("/var/lib/svclab", o.Lab, "containerd")
	}
	if o.ResolveTimeout == 0 {
		o.ResolveTimeout = 5 * time.Second
	}
	if o.PullTimeout == 0 {
		o.PullTimeout = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Namespace is the containerd namespace (and cgroup parent) of lab: "svclab" for the default
// lab (named "svclab" or "default"), "svclab-<lab>" otherwise.
func Namespace(lab string) string {
	if lab == "" || lab == "svclab" || lab == "default" {
		return "svclab"
	}
	return "svclab-" + lab
}

// Runtime runs pods as containerd containers in the lab's namespace.
type Runtime struct {
	opts   Options
	ns     string
	client *client.Client
	daemon *daemon // nil when using an existing daemon
	log    *slog.Logger

	importDone chan struct{}
	importErr  error

	mu      sync.Mutex
	started map[string]time.Time // start times of containers this process started
}

func init() {
	// The client logs every "trying next host" of a failing pull on stderr; the error returned
	// carries the reason anyway.
	ctdlog.SetLevel("error")
}

// New connects to containerd — an existing daemon or a private one it starts — and begins
// importing the built-in image in the background (EnsureImage waits for it).
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("containerd runtime: %w", err)
	}
	r := &Runtime{opts: opts, ns: Namespace(opts.Lab), log: opts.Log.With("component", "runtime", "runtime", "containerd", "lab", opts.Lab), started: map[string]time.Time{}}
	// Hashing the binary (a few hundred ms for ~100 MB) overlaps the daemon's start.
	described := make(chan describeResult, 1)
	go func() {
		begin := time.Now()
		im, err := image.Describe(opts.Binary)
		described <- describeResult{im, err, time.Since(begin)}
	}()
	if err := r.connect(ctx, true); err != nil {
		<-described
		return nil, err
	}
	if err := os.MkdirAll(r.fifoDir(), 0o700); err != nil {
		r.Close()
		return nil, fmt.Errorf("containerd runtime: %w", err)
	}
	r.importDone = make(chan struct{})
	go func() {
		defer close(r.importDone)
		d := <-described
		if d.err != nil {
			r.importErr = d.err
			return
		}
		r.importErr = r.importBuiltin(context.WithoutCancel(r.nsCtx(ctx)), d.im, d.took)
	}()
	return r, nil
}

func (r *Runtime) newDaemon() *daemon {
	return &daemon{stateDir: filepath.Join(r.opts.StateDir, "daemon"), rootDir: r.opts.RootDir, binary: r.opts.ContainerdBinary, log: r.log}
}

// connect picks the daemon: Socket, DefaultSocket, a private daemon left running by an
// earlier svclab process, or (when start is set) a new private daemon.
func (r *Runtime) connect(ctx context.Context, start bool) error {
	socket := ""
	if !r.opts.Private {
		switch {
		case r.opts.Socket != "":
			if !answers(ctx, r.opts.Socket) {
				return fmt.Errorf("containerd runtime: no containerd answers at %s", r.opts.Socket)
			}
			socket = r.opts.Socket
		case answers(ctx, DefaultSocket):
			socket = DefaultSocket
		}
	}
	if socket == "" {
		d := r.newDaemon()
		if d.pid() > 0 && answers(ctx, d.socket()) {
			r.log.Info("reusing the lab's private containerd", "pid", d.pid())
		} else {
			if !start {
				return errNoDaemon
			}
			if err := d.stop(false); err != nil { // a hung one from a crash
				return fmt.Errorf("containerd runtime: %w", err)
			}
			if err := d.start(ctx); err != nil {
				return fmt.Errorf("containerd runtime: %w", err)
			}
		}
		r.daemon, socket = d, d.socket()
	}
	c, err := client.New(socket, client.WithDefaultNamespace(r.ns), client.WithTimeout(5*time.Second))
	if err != nil {
		if r.daemon != nil {
			r.daemon.stop(false)
		}
		return fmt.Errorf("containerd runtime: connect to %s: %w", socket, err)
	}
	r.client = c
	r.log.Info("using containerd", "socket", socket, "private", r.daemon != nil, "namespace", r.ns)
	return nil
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return "containerd" }

// Namespace returns the containerd namespace the runtime works in.
func (r *Runtime) Namespace() string { return r.ns }

// Socket returns the address of the containerd in use.
func (r *Runtime) Socket() string {
	if r.daemon != nil {
		return r.daemon.socket()
	}
	if r.opts.Socket != "" {
		return r.opts.Socket
	}
	return DefaultSocket
}

// Private reports whether the runtime started (or adopted) a private containerd.
func (r *Runtime) Private() bool { return r.daemon != nil }

// Client returns the containerd client (for `svclab image import/ls`); its default namespace
// is the lab's.
func (r *Runtime) Client() *client.Client { return r.client }

func (r *Runtime) nsCtx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.ns)
}

func (r *Runtime) fifoDir() string  { return filepath.Join(r.opts.StateDir, "fifo") }
func (r *Runtime) runcRoot() string { return filepath.Join(r.opts.StateDir, "runc") }

// cgroupParent is the lab's own cgroup; every container sits below it so Cleanup finds them.
func (r *Runtime) cgroupParent() string { return "/" + r.ns }

// Close implements runtime.Runtime: it closes the connection and stops a private daemon
// (containers of a private daemon stop with it only through Cleanup).
func (r *Runtime) Close() error {
	if r.importDone != nil {
		<-r.importDone
	}
	var errs []error
	if r.client != nil {
		errs = append(errs, r.client.Close())
		r.client = nil
	}
	if r.daemon != nil {
		errs = append(errs, r.daemon.stop(false))
	}
	return errors.Join(errs...)
}
