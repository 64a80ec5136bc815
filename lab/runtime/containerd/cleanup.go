package containerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// Cleanup implements runtime.Runtime: it deletes the lab's tasks, containers, snapshots,
// images, leases and namespace, stops a private daemon and removes its directories, and
// removes the lab's cgroups and state. The runtime is unusable afterwards (except Close).
func (r *Runtime) Cleanup(ctx context.Context) error {
	if r.importDone != nil {
		r.waitImport(ctx)
	}
	var errs []error
	if r.client != nil {
		errs = append(errs, r.cleanNamespace(r.nsCtx(ctx)))
		r.client.Close()
		r.client = nil
	}
	if r.daemon != nil {
		errs = append(errs, r.daemon.stop(true))
		r.daemon.removeRunDir()
		r.daemon = nil
	}
	errs = append(errs, r.removeLeftovers())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("containerd runtime: cleanup: %w", err)
	}
	return nil
}

// CleanupLab removes everything a containerd runtime with these options may have left, also
// after a crash, without importing anything: the lab's namespace in the existing daemon (when
// one answers) and the lab's private daemon (restarted if needed to delete its containers
// properly), its directories and cgroups. It is idempotent.
func CleanupLab(ctx context.Context, opts Options) error {
	if err := opts.setDefaults(); err != nil {
		return fmt.Errorf("containerd runtime: %w", err)
	}
	var errs []error
	if !opts.Private {
		shared := &Runtime{opts: opts, ns: Namespace(opts.Lab), log: opts.Log}
		if err := shared.connect(ctx, false); err == nil && shared.daemon == nil {
			errs = append(errs, shared.Cleanup(ctx))
		} else if shared.client != nil {
			shared.client.Close()
		}
	}
	priv := &Runtime{opts: opts, ns: Namespace(opts.Lab), log: opts.Log}
	priv.opts.Private = true
	if _, err := os.Stat(priv.newDaemon().stateDir); err == nil {
		if err := priv.connect(ctx, true); err != nil {
			errs = append(errs, err)
			priv.daemon = priv.newDaemon() // still stop what is left and remove the directories
		}
	}
	errs = append(errs, priv.Cleanup(ctx))
	return errors.Join(errs...)
}

// cleanNamespace deletes every object of the runtime's namespace, then the namespace.
func (r *Runtime) cleanNamespace(ctx context.Context) error {
	var errs []error
	containers, err := r.client.Containers(ctx)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, c := range containers {
		if err := killAndDelete(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	is := r.client.ImageService()
	imgs, err := is.List(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("list images: %w", err))
	}
	for i, img := range imgs {
		var opts []images.DeleteOpt
		if i == len(imgs)-1 {
			opts = append(opts, images.SynchronousDelete()) // one garbage collection at the end
		}
		if err := is.Delete(ctx, img.Name, opts...); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete image %s: %w", img.Name, err))
		}
	}
	ls := r.client.LeasesService()
	if all, err := ls.List(ctx); err == nil {
		for _, l := range all {
			ls.Delete(ctx, l, leases.SynchronousDelete)
		}
	}
	errs = append(errs, removeSnapshots(ctx, r.client.SnapshotService(snapshotter)))
	cs := r.client.ContentStore()
	var blobs []digest.Digest
	cs.Walk(ctx, func(info content.Info) error { blobs = append(blobs, info.Digest); return nil })
	for _, d := range blobs { // unreferenced content, e.g. of an interrupted pull
		cs.Delete(ctx, d)
	}
	if err := r.client.NamespaceService().Delete(ctx, r.ns); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete namespace %s: %w", r.ns, err))
	}
	return errors.Join(errs...)
}

func killAndDelete(ctx context.Context, c client.Container) error {
	if task, err := c.Task(ctx, nil); err == nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		exited, werr := task.Wait(wctx)
		if st, err := task.Status(ctx); err == nil && st.Status != client.Stopped {
			task.Kill(ctx, syscall.SIGKILL, client.WithKillAll)
			if werr == nil {
				select {
				case <-exited:
				case <-wctx.Done():
				}
			}
		}
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %s: %w", c.ID(), err)
		}
	}
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		if err := c.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete container %s: %w", c.ID(), err)
		}
	}
	return nil
}

// removeSnapshots removes every snapshot, children before parents.
func removeSnapshots(ctx context.Context, sn snapshots.Snapshotter) error {
	for round := 0; round < 20; round++ {
		var keys []string
		if err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
			keys = append(keys, info.Name)
			return nil
		}); err != nil {
			if errdefs.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("list snapshots: %w", err)
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			sn.Remove(ctx, k) // a parent fails until its children are gone
		}
	}
	return errors.New("snapshots survive removal")
}

// removeLeftovers removes the lab's cgroups, leftover mounts under its directories, the
// directories themselves and runc state a system containerd may have kept.
func (r *Runtime) removeLeftovers() error {
	var errs []error
	for _, dir := range r.cgroupDirs() {
		if err := removeCgroupTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range []string{r.opts.StateDir, r.opts.RootDir} {
		unmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if r.opts.RootDir == filepath.Join("/var/lib/svclab", r.opts.Lab, "containerd") {
		os.Remove(filepath.Dir(r.opts.RootDir)) // only when empty
		os.Remove("/var/lib/svclab")
	}
	// runc's default root, used only if a runtime ignored the Root option.
	os.RemoveAll(filepath.Join("/run/containerd/runc", r.ns))
	return errors.Join(errs...)
}

// cgroupDirs returns the lab's cgroup parent in every hierarchy (cgroup v1 controllers or the
// v2 unified tree).
func (r *Runtime) cgroupDirs() []string {
	var dirs []string
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{filepath.Join("/sys/fs/cgroup", r.cgroupParent())}
	}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", e.Name(), r.cgroupParent()))
		}
	}
	slices.Sort(dirs)
	return dirs
}

// CgroupDirs returns the lab's cgroup directories that exist (for residue checks).
func (r *Runtime) CgroupDirs() []string {
	var out []string
	for _, d := range r.cgroupDirs() {
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// removeCgroupTree removes dir and its sub-cgroups, deepest first (cgroup directories can only
// be removed with rmdir, and only when empty of processes).
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for i := 0; ; i++ {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if i == 50 { // processes may take a moment to leave a killed container's cgroup
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	if dir == "" || dir == "/" {
		return
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			p := unescapeMount(fields[4])
			if strings.HasPrefix(p, dir+"/") {
				points = append(points, p)
			}
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
