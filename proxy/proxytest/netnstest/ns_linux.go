package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is a named network namespace a test created (visible to `ip netns`); it is removed
// in the test's Cleanup.
type NS struct {
	// Name is the namespace's name, svclabt-<prefix>-<random>.
	Name   string
	handle netns.NsHandle
	nl     *netlink.Handle
}

// NewNS creates the network namespace svclabt-<prefix>-<6 random hex digits> with lo up,
// and removes it in t.Cleanup. It uses netlink, not the ip tool, so it also works on a
// busybox system.
func NewNS(t testing.TB, prefix string) *NS {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "svclabt-" + prefix + "-" + hex.EncodeToString(b)
	type result struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// NewNamed moves the calling thread into the new namespace. The goroutine ends
		// with the thread still locked, so the runtime discards that thread.
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		ch <- result{h, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("create network namespace %s: %v", name, r.err)
	}
	ns := &NS{Name: name, handle: r.h}
	t.Cleanup(func() {
		_ = ns.handle.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	nl, err := netlink.NewHandleAt(r.h, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(nl.Close)
	ns.nl = nl
	ns.LinkUp(t, "lo")
	return ns
}

// Handle is the namespace's file handle (valid until the test ends).
func (ns *NS) Handle() netns.NsHandle { return ns.handle }

// Netlink is a netlink handle operating in the namespace (closed when the test ends).
func (ns *NS) Netlink() *netlink.Handle { return ns.nl }

// Prefix is the command prefix that runs a program in the namespace, e.g. for
// ipt.Exec{Prefix: ns.Prefix()}.
func (ns *NS) Prefix() []string { return []string{"ip", "netns", "exec", ns.Name} }

// Command returns an exec.Cmd running args in the namespace (through `ip netns exec`).
func (ns *NS) Command(args ...string) *exec.Cmd {
	full := append(ns.Prefix(), args...)
	return exec.Command(full[0], full[1:]...)
}

// Exec runs args in the namespace and returns their combined output; it fails t on an
// error, quoting the output.
func (ns *NS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ns.Command(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v: %s", ns.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Run calls fn on a locked OS thread switched into the namespace, in a goroutine of its
// own, and returns fn's error. Sockets fn opens stay in the namespace wherever they are
// used later; child processes it starts begin in the namespace.
func (ns *NS) Run(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns.handle); err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine instead of serving
			// other goroutines from the wrong namespace.
			errc <- fmt.Errorf("leave network namespace %s: %w", ns.Name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Enter locks the calling goroutine to its OS thread and switches that thread into the
// namespace, for code that must run there and cannot be moved into Run (programs such as
// nft started from this goroutine inherit the namespace). Call the returned function
// (usually deferred) to switch back; the thread is only unlocked once it is back.
func (ns *NS) Enter(t testing.TB) (leave func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	if err := netns.Set(ns.handle); err != nil {
		_ = orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("enter network namespace %s: %v", ns.Name, err)
	}
	return func() {
		defer orig.Close()
		// Only hand the thread back to the scheduler once it is in the original
		// namespace again; otherwise Go discards it when the goroutine ends.
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}
}

// Listen opens a listener in the namespace (it implements the Listen method of
// net.ListenConfig).
func (ns *NS) Listen(ctx context.Context, network, address string) (l net.Listener, err error) {
	err = ns.Run(func() error { l, err = (&net.ListenConfig{}).Listen(ctx, network, address); return err })
	return l, err
}

// ListenPacket opens a packet listener in the namespace.
func (ns *NS) ListenPacket(ctx context.Context, network, address string) (pc net.PacketConn, err error) {
	err = ns.Run(func() error { pc, err = (&net.ListenConfig{}).ListenPacket(ctx, network, address); return err })
	return pc, err
}

// DialContext connects from the namespace.
func (ns *NS) DialContext(ctx context.Context, network, address string) (c net.Conn, err error) {
	err = ns.Run(func() error { c, err = (&net.Dialer{}).DialContext(ctx, network, address); return err })
	return c, err
}

// ServeTCP listens on addr in the namespace and answers every connection with
// reply(conn), until the test ends. It returns the listener (closed in t.Cleanup).
func (ns *NS) ServeTCP(t testing.TB, network, addr string, reply func(net.Conn) string) net.Listener {
	t.Helper()
	ln, err := ns.Listen(context.Background(), network, addr)
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns.Name, err)
	}
	ServeTCP(t, ln, reply)
	return ln
}
