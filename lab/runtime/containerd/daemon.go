package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// DefaultSocket is where a system containerd listens.
const DefaultSocket = "/run/containerd/containerd.sock"

// disabledPlugins keeps a private containerd from touching the host beyond its own
// directories: no CRI (it would configure networking), no NRI (creates /var/run/nri), no
// tracing, and no snapshotters that probe block devices. (The legacy v1 runtime stays: on 1.6
// the tasks service does not load without it.)
var disabledPlugins = []string{
	"io.containerd.grpc.v1.cri",
	"io.containerd.cri.v1.images",
	"io.containerd.cri.v1.runtime",
	"io.containerd.nri.v1.nri",
	"io.containerd.internal.v1.tracing",
	"io.containerd.tracing.processor.v1.otlp",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.zfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.aufs",
}

// daemon is a private containerd: its files live under stateDir (socket, config, pid, log,
// state) and rootDir (content, snapshots, metadata).
type daemon struct {
	stateDir, rootDir string
	binary            string
	log               *slog.Logger
	cmd               *exec.Cmd     // nil when adopted from an earlier svclab process
	exited            chan struct{} // closed when cmd has been reaped
}

func (d *daemon) socket() string     { return filepath.Join(d.stateDir, "containerd.sock") }
func (d *daemon) configPath() string { return filepath.Join(d.stateDir, "config.toml") }
func (d *daemon) pidPath() string    { return filepath.Join(d.stateDir, "containerd.pid") }
func (d *daemon) logPath() string    { return filepath.Join(d.stateDir, "containerd.log") }
func (d *daemon) createdRunDirMarker() string {
	return filepath.Join(d.stateDir, "created-run-containerd")
}

// systemRunDir is containerd's default state directory, which 1.6 shims use for sockets.
const systemRunDir = "/run/containerd"

// removeRunDir removes /run/containerd (and its s/ and runc/ subdirectories) when a private
// daemon of this lab created it and nothing else uses it: only empty directories go.
func (d *daemon) removeRunDir() {
	if _, err := os.Stat(d.createdRunDirMarker()); err != nil {
		return
	}
	for _, dir := range []string{"s", "runc", ""} {
		os.Remove(filepath.Join(systemRunDir, dir))
	}
}

func (d *daemon) config() string {
	quoted := make([]string, len(disabledPlugins))
	for i, p := range disabledPlugins {
		quoted[i] = strconv.Quote(p)
	}
	return fmt.Sprintf(`# Private containerd of an svclab lab; removed by svclab down.
version = 2
root = %q
state = %q
disabled_plugins = [%s]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(d.rootDir, "root"), filepath.Join(d.stateDir, "state"), strings.Join(quoted, ", "),
		d.socket(), d.socket()+".ttrpc", filepath.Join(d.rootDir, "opt"))
}

// start launches containerd and waits until it answers.
func (d *daemon) start(ctx context.Context) error {
	bin := d.binary
	if bin == "" {
		p, err := exec.LookPath("containerd")
		if err != nil {
			return fmt.Errorf("containerd is not installed (apt-get install containerd runc, or use --runtime=process): %w", err)
		}
		bin = p
	}
	for _, dir := range []string{d.stateDir, d.rootDir} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("start private containerd: %w", err)
		}
	}
	if err := os.WriteFile(d.configPath(), []byte(d.config()), 0o600); err != nil {
		return fmt.Errorf("start private containerd: %w", err)
	}
	os.Remove(d.socket()) // a stale socket from a crash would make containerd fail
	// containerd 1.6 shims put their sockets in /run/containerd/s whatever the daemon's
	// state directory; remember whether we create /run/containerd so Cleanup can remove it.
	if _, err := os.Stat(systemRunDir); errors.Is(err, os.ErrNotExist) {
		os.WriteFile(d.createdRunDirMarker(), nil, 0o600)
	}
	logf, err := os.OpenFile(d.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start private containerd: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", d.configPath())
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: Ctrl-C on `svclab up` must not kill it before svclab has
	// deleted the lab's containers through it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start private containerd: %w", err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(d.exited) }()
	if err := os.WriteFile(d.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		d.stop(true)
		return fmt.Errorf("start private containerd: %w", err)
	}
	for {
		if answers(ctx, d.socket()) {
			d.log.Debug("private containerd ready", "pid", cmd.Process.Pid, "socket", d.socket(), "took", time.Since(begin))
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("private containerd exited at start: %s", tail(d.logPath()))
		case <-ctx.Done():
			d.stop(true)
			return fmt.Errorf("start private containerd: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(begin) > 15*time.Second {
			d.stop(true)
			return fmt.Errorf("private containerd did not answer within 15s: %s", tail(d.logPath()))
		}
	}
}

// pid returns the running private containerd's pid from the pid file, checked against
// /proc/<pid>/cmdline so a recycled pid is never taken for it.
func (d *daemon) pid() int {
	b, err := os.ReadFile(d.pidPath())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(d.configPath())) {
		return 0
	}
	return pid
}

// stop terminates the private containerd (SIGTERM, then SIGKILL after 5s), whether this
// process started it or an earlier one did. With killShims it also kills the shims it left
// (Cleanup, once the containers are gone); without, running containers survive and a new
// daemon on the same state adopts them.
func (d *daemon) stop(killShims bool) error {
	if pid := d.pid(); pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(pid, d.exited, 5*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			if !waitGone(pid, d.exited, 5*time.Second) {
				return fmt.Errorf("private containerd (pid %d) survives SIGKILL", pid)
			}
		}
	}
	// Shims outlive their daemon; they are found by the daemon address on their command line.
	for _, pid := range processesWith("containerd-shim", d.socket()) {
		if !killShims {
			break
		}
		d.log.Debug("killing leftover shim", "pid", pid)
		syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid, nil, 5*time.Second)
	}
	os.Remove(d.pidPath())
	return nil
}

// waitGone waits until pid has exited (exited, when not nil, is closed once it was reaped).
func waitGone(pid int, exited chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if exited != nil {
			select {
			case <-exited:
				return true
			default:
			}
		} else if !alive(pid) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// processesWith returns the live processes whose command line contains every word.
func processesWith(words ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		all := true
		for _, w := range words {
			all = all && bytes.Contains(cmdline, []byte(w))
		}
		if all && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// answers reports whether a containerd serves at socket, within 2s.
func answers(ctx context.Context, socket string) bool {
	if _, err := os.Stat(socket); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.New(socket, client.WithTimeout(time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	ok, err := c.IsServing(ctx)
	return err == nil && ok
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

var errNoDaemon = errors.New("no containerd")
