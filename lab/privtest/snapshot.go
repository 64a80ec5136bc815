package privtest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

var counters = regexp.MustCompile(`\[\d+:\d+\]|packets \d+ bytes \d+`)

// HostSnapshot is the host state a lab must leave exactly as it found it: namespaces,
// links, routes (all tables), rules, iptables and nftables rules (counters masked),
// mounts, svclab's state directories, containers of the system containerd's `svclab`
// namespace, and svclab processes (test binaries excluded).
func HostSnapshot(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	run := func(args ...string) {
		out, _ := exec.Command(args[0], args[1:]...).CombinedOutput()
		fmt.Fprintf(&b, "$ %s\n%s\n", strings.Join(args, " "), counters.ReplaceAllString(string(out), "[counters]"))
	}
	run("ip", "netns", "list")
	run("ip", "-d", "link", "show")
	run("ip", "route", "show", "table", "all")
	run("ip", "rule", "show")
	if _, err := exec.LookPath("iptables-save"); err == nil {
		run("iptables-save")
	}
	if _, err := exec.LookPath("nft"); err == nil {
		run("nft", "list", "ruleset")
	}
	if _, err := os.Stat("/run/containerd/containerd.sock"); err == nil {
		if _, err := exec.LookPath("ctr"); err == nil {
			for _, what := range []string{"containers", "tasks", "snapshots"} {
				run("ctr", "-n", "svclab", what, "ls")
			}
		}
	}
	for _, dir := range []string{"/run/svclab", "/var/lib/svclab"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			fmt.Fprintf(&b, "state %s/%s\n", dir, e.Name())
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, "svclab") || strings.Contains(line, "/run/netns") {
			fmt.Fprintf(&b, "mount %s\n", strings.Join(strings.Fields(line)[3:5], " "))
		}
	}
	procs, _ := exec.Command("pgrep", "-af", "svclab").CombinedOutput()
	for _, line := range strings.Split(string(procs), "\n") {
		// Zombies (killed children not yet reaped by init) hold nothing.
		if line != "" && !strings.Contains(line, ".test") && !strings.Contains(line, "pgrep") && !strings.Contains(line, "<defunct>") {
			fmt.Fprintf(&b, "process %s\n", strings.SplitN(line, " ", 2)[1])
		}
	}
	return b.String()
}

// Diff returns the lines only in a and only in b ("" when equal), for failure messages.
func Diff(a, b string) string {
	if a == b {
		return ""
	}
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			fmt.Fprintf(&out, "- %s\n", l)
			count[l]--
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if count[l] < 0 {
			fmt.Fprintf(&out, "+ %s\n", l)
			count[l]++
		}
	}
	return out.String()
}
