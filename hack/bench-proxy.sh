#!/usr/bin/env bash
# bench-proxy.sh runs the kube-proxy benchmarks (proxy/bench) and prints their results as
# two tables: sync time per mode at 100, 1,000 and 10,000 Services plus a one-endpoint
# change at 10,000, and HTTP through a ClusterIP against the same traffic sent straight to
# the pod, each with the ratio against a baseline measured in the same run and the issue's
# target beside it. They need root (they create throwaway network namespaces) and skip
# otherwise. Environment: BENCHTIME (go test -benchtime, default 1x: each step once),
# BENCH (go test -bench regexp, default .), SYNC_BUDGET (longest one sync may take before
# its row is reported as over budget, default 30s), REQUESTS (HTTP requests per target and
# variant, default 2000), BENCH_OUT (also keep the raw output there).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
benchtime=${BENCHTIME:-1x}
pattern=${BENCH:-.}
budget=${SYNC_BUDGET:-30s}
requests=${REQUESTS:-2000}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

args=(test -v -run '^$' -bench "$pattern" -benchtime "$benchtime" -timeout 15m ./proxy/bench/
	-sync-budget "$budget" -requests "$requests")
echo "running: $GO ${args[*]}" >&2
status=0
# -v: a skipped row prints its reason only in verbose mode.
"$GO" "${args[@]}" >"$raw" 2>&1 || status=$?
if [[ -n "${BENCH_OUT:-}" ]]; then
	cp "$raw" "$BENCH_OUT"
fi
if ! grep -q -E '^(Benchmark.* ns/op|--- SKIP)' "$raw"; then
	cat "$raw" >&2
	echo "bench-proxy: go test failed before any benchmark ran" >&2
	exit 1
fi

echo "kernel $(uname -r); $(iptables --version 2>/dev/null || echo 'no iptables'); $(nft --version 2>/dev/null || echo 'no nft')"
awk -v budget="$budget" '
# strip drops the -GOMAXPROCS suffix go test adds to a row name (none when it is 1).
function strip(name) {
	if (name ~ /(full|change)-[0-9]+-[0-9]+$/ || name ~ /(new-conn|keep-alive)-[0-9]+$/) sub(/-[0-9]+$/, "", name)
	return name
}
# note numbers a skip or failure reason, printed under the tables.
function note(text,    k) {
	for (k = 1; k <= nnotes; k++) if (notes[k] == text) return "[" k "]"
	notes[++nnotes] = text
	return "[" nnotes "]"
}
function fmtms(v) { return v >= 100 ? sprintf("%.0f", v) : sprintf("%.1f", v) }
function srow(mode, row, ms, apply, ratio, target) {
	srows[++ns] = sprintf("| %-15s | %-12s | %9s | %8s | %-42s | %-22s |", mode, row, ms, apply, ratio, target)
}
function trow(mode, row, to, rate, p50, p99, ratio, target) {
	trows[++nt] = sprintf("| %-15s | %-10s | %-9s | %8s | %7s | %7s | %-24s | %-17s |", mode, row, to, rate, p50, p99, ratio, target)
}
/^(goos|goarch|cpu):/ { info = info $0 "  " }
/^    [A-Za-z0-9_]+\.go:[0-9]+: / { msg = $0; sub(/^ +[A-Za-z0-9_]+\.go:[0-9]+: /, "", msg); next }
/^--- (SKIP|FAIL): Benchmark/ {
	n = split($3, part, "/")
	what = ($2 == "SKIP:" ? "skipped " : "FAILED ") note(msg)
	mode = n > 1 ? part[2] : "(all)"; row = n > 2 ? strip(part[3]) : "(all)"
	if (part[1] == "BenchmarkProxySync") {
		ms = "-"; target = ""
		if (msg ~ /over budget: cancelled/ && row ~ /^(full|change)-/) ms = "> " budget
		if (mode ~ /^(iptables|iptables-legacy|nftables)$/ && row == "full-10000") target = (ms == "-" ? "< 2 s: not measured" : "< 2 s: missed")
		if (mode ~ /^(iptables|iptables-legacy|nftables)$/ && row == "change-10000") target = (ms == "-" ? "< 100 ms: not measured" : "< 100 ms: missed")
		srow(mode, row, ms, "-", what, target)
	}
	else if (part[1] == "BenchmarkProxyTraffic") trow(mode, row, "-", "-", "-", "-", what, "")
	msg = ""
	next
}
/^Benchmark.* ns\/op/ {
	split(strip($1), part, "/")
	delete m
	ratio = ""
	for (i = 3; i < NF; i += 2) {
		m[$(i + 1)] = $i
		if ($(i + 1) ~ /^x-vs-/) { r = $(i + 1); sub(/^x-/, "", r); ratio = ratio (ratio == "" ? "" : ", ") sprintf("%.2fx %s", $i, r) }
	}
	mode = part[2]; row = part[3]
	if (part[1] == "BenchmarkProxySync") {
		target = ""
		if (mode ~ /^(iptables|iptables-legacy|nftables)$/ && row == "full-10000") target = (m["ms/sync"] < 2000 ? "< 2 s: met" : "< 2 s: missed")
		if (mode ~ /^(iptables|iptables-legacy|nftables)$/ && row == "change-10000") target = (m["ms/sync"] < 100 ? "< 100 ms: met" : "< 100 ms: missed")
		srow(mode, row, fmtms(m["ms/sync"]), sprintf("%.1f", m["apply-ms"]), ratio == "" ? "baseline" : ratio, target)
	} else if (part[1] == "BenchmarkProxyTraffic") {
		trow(mode, row, "pod IP", sprintf("%.0f", m["direct-req/s"]), sprintf("%.3f", m["direct-p50-ms"]), sprintf("%.3f", m["direct-p99-ms"]), "baseline", "")
		target = "(no target)"
		if (mode != "userspace") target = (m["x-vs-direct"] >= 0.95 ? "within 5%: met" : "within 5%: missed")
		trow(mode, row, "ClusterIP", sprintf("%.0f", m["req/s"]), sprintf("%.3f", m["p50-ms"]), sprintf("%.3f", m["p99-ms"]),
			sprintf("%.3fx req/s, %.2fx p50", m["x-vs-direct"], m["x-p50-vs-direct"]), target)
	}
}
END {
	if (ns + nt == 0) { print "bench-proxy: no benchmark results" > "/dev/stderr"; exit 1 }
	print info
	if (ns > 0) {
		print ""
		print "Sync time (Tracker.Apply + Proxier.Sync through the real kernel, in a fresh network namespace):"
		printf "| %-15s | %-12s | %9s | %8s | %-42s | %-22s |\n", "mode", "sync", "ms", "apply ms", "vs baseline (same run)", "target (issue)"
		printf "|%s|%s|%s|%s|%s|%s|\n", "-----------------", "--------------", "-----------", "----------", "--------------------------------------------", "------------------------"
		for (i = 1; i <= ns; i++) print srows[i]
	}
	if (nt > 0) {
		print ""
		print "HTTP from the node namespace to a pod: straight to the pod IP (baseline) and through the ClusterIP:"
		printf "| %-15s | %-10s | %-9s | %8s | %7s | %7s | %-24s | %-17s |\n", "mode", "traffic", "to", "req/s", "p50 ms", "p99 ms", "vs direct (same run)", "target (issue)"
		printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "-----------------", "------------", "-----------", "----------", "---------", "---------", "--------------------------", "-------------------"
		for (i = 1; i <= nt; i++) print trows[i]
	}
	print ""
	print "full-N: the first sync of N Services (2 endpoints each, a NodePort on every tenth) into an empty"
	print "namespace; change-10000: one endpoint of one Service moved (a partial sync). Ratios: vs-100 against the"
	print "same mode at 100 Services, vs-iptables (vs-iptables-legacy where only that backend finished) against"
	print "the same row of the first iptables mode, vs-full against the same mode at full-10000."
	print "new-conn opens a TCP connection per request (NAT and conntrack paid each time), keep-alive reuses one;"
	print "the node holds 1,000 Services and the measured one sorts last. The two targets of a row are measured"
	print "alternately, so they share the machine noise. Timings are reported, never asserted. Syncs longer"
	print "than " budget " (SYNC_BUDGET) are cancelled and their row is skipped."
	for (i = 1; i <= nnotes; i++) print "[" i "] " notes[i]
}' "$raw"
exit "$status"
