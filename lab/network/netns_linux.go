package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RunInNamespace runs fn on a fresh OS thread switched into the network namespace at nsPath,
// then switches the thread back. If switching back fails the thread is never unlocked, so
// the Go runtime destroys it instead of reusing a thread in the wrong namespace. fn must not
// start goroutines that expect to be in the namespace: they run on other threads.
func RunInNamespace(nsPath string, fn func() error) error {
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer target.Close()
	return onLockedThread(func() (bool, error) {
		orig, err := netns.Get()
		if err != nil {
			return true, fmt.Errorf("open current network namespace: %w", err)
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			return true, fmt.Errorf("enter network namespace %s: %w", nsPath, err)
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			return false, fmt.Errorf("leave network namespace %s: %w", nsPath, err)
		}
		return true, ferr
	})
}

// onLockedThread runs f on a new goroutine locked to its OS thread. f reports whether the
// thread is back in its original state; if not, the goroutine exits still locked and the
// runtime terminates the thread.
func onLockedThread(f func() (restored bool, err error)) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := f()
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// DialInNamespace connects to addr (host:port) with a socket created inside the network
// namespace at nsPath; the connection can then be used from any goroutine. A host name is
// resolved by the caller's resolver, in the caller's namespace; each address is tried in turn.
func DialInNamespace(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s in %s: %w", addr, nsPath, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s in %s: bad port: %w", addr, nsPath, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("dial %s in %s: %w", addr, nsPath, err)
	}
	var errs []error
	for _, ip := range ips {
		var conn net.Conn
		target := netip.AddrPortFrom(ip.Unmap(), uint16(port)).String()
		err := RunInNamespace(nsPath, func() error {
			var d net.Dialer
			var err error
			// A literal address makes the dialer create the socket on this goroutine,
			// hence on this locked thread, inside the namespace.
			conn, err = d.DialContext(ctx, network, target)
			return err
		})
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("dial %s in %s: %w", addr, nsPath, errors.Join(errs...))
}

// ListenInNamespace opens a listener whose socket was created inside the network namespace at
// nsPath; Accept can be called from any goroutine.
func ListenInNamespace(ctx context.Context, nsPath, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := RunInNamespace(nsPath, func() error {
		var err error
		l, err = (&net.ListenConfig{}).Listen(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s in %s: %w", addr, nsPath, err)
	}
	return l, nil
}

// netnsDirMarker records that svclab created NetNSDir and/or made it a mount point, so the
// last DeleteNetNS can undo that and leave /run exactly as it was.
type netnsDirMarker struct {
	MadeDir   bool `json:"madeDir"`
	MadeMount bool `json:"madeMount"`
}

// ensureNetNSDir prepares NetNSDir like iproute2's `ip netns add`: the directory, made a
// shared mount point (bound onto itself when it is not one yet) so that unmounting a
// namespace propagates to other mount namespaces and the namespace really goes away. Before
// changing anything it records what it is about to make in markerPath, so that a crash right
// after is still undone by restoreNetNSDir.
func ensureNetNSDir(markerPath string) error {
	_, err := os.Stat(NetNSDir)
	dirExisted := err == nil
	if dirExisted && unix.Mount("", NetNSDir, "none", unix.MS_SHARED|unix.MS_REC, "") == nil {
		return nil // already a mount point, now shared
	}
	var m netnsDirMarker
	if err := readJSON(markerPath, &m); err != nil && !isNotExist(err) {
		return err
	}
	m.MadeDir = m.MadeDir || !dirExisted
	m.MadeMount = true
	if err := writeJSON(markerPath, m); err != nil {
		return fmt.Errorf("record changes to %s: %w", NetNSDir, err)
	}
	if err := os.Mkdir(NetNSDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", NetNSDir, err)
	}
	bound := false
	for {
		err := unix.Mount("", NetNSDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("make %s a shared mount: %w", NetNSDir, err)
		}
		if err := unix.Mount(NetNSDir, NetNSDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s onto itself: %w", NetNSDir, err)
		}
		bound = true
	}
}

// createNamedNetNS creates a network namespace bind-mounted at NetNSDir/name.
func createNamedNetNS(name string) error {
	path := filepath.Join(NetNSDir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create network namespace %s: %w", name, err)
	}
	f.Close()
	err = onLockedThread(func() (bool, error) {
		orig, err := netns.Get()
		if err != nil {
			return true, fmt.Errorf("open current network namespace: %w", err)
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return true, fmt.Errorf("unshare: %w", err)
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		merr := unix.Mount(src, path, "none", unix.MS_BIND, "")
		if err := netns.Set(orig); err != nil {
			return false, fmt.Errorf("return to the original network namespace: %w", err)
		}
		if merr != nil {
			return true, fmt.Errorf("bind mount %s: %w", path, merr)
		}
		return true, nil
	})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("create network namespace %s: %w", name, err)
	}
	return nil
}

// deleteNamedNetNS unmounts and removes NetNSDir/name like `ip netns delete`.
func deleteNamedNetNS(name string) error {
	path := filepath.Join(NetNSDir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// restoreNetNSDir undoes ensureNetNSDir when the marker says svclab made the directory or
// its mount and no namespace is left in it. A plain unmount (no MNT_DETACH) fails with EBUSY
// if someone added a namespace meanwhile, which leaves it alone.
func restoreNetNSDir(markerPath string) error {
	data, err := os.ReadFile(markerPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var m netnsDirMarker
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("read %s: %w", markerPath, err)
	}
	entries, err := os.ReadDir(NetNSDir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.Remove(markerPath)
	} else if err != nil || len(entries) > 0 {
		return err
	}
	if m.MadeMount {
		if err := unix.Unmount(NetNSDir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return nil // busy: in use again
		}
	}
	if m.MadeDir {
		if err := os.Remove(NetNSDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return os.Remove(markerPath)
}
