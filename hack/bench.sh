#!/usr/bin/env bash
# bench.sh runs the API server benchmarks (apiserver-lite/bench) and prints their results as a
# table: requests per second, p50/p99 latency and the ratio against the baseline measured in
# the same run. Environment: BENCHTIME (go test -benchtime, default 1x: each step once),
# BENCH (go test -bench regexp, default .), BENCH_OUT (also keep the raw output there).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
benchtime=${BENCHTIME:-1x}
pattern=${BENCH:-.}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

echo "running: $GO test -run '^\$' -bench '$pattern' -benchtime $benchtime ./apiserver-lite/bench/" >&2
# klog lines of the in-process server go to stderr; keep only the benchmark output.
if ! "$GO" test -run '^$' -bench "$pattern" -benchtime "$benchtime" -timeout 10m ./apiserver-lite/bench/ 2>/dev/null >"$raw"; then
	cat "$raw" >&2
	echo "bench: go test failed" >&2
	exit 1
fi
if [[ -n "${BENCH_OUT:-}" ]]; then
	cp "$raw" "$BENCH_OUT"
fi

awk '
/^(goos|goarch|cpu):/ { info = info $0 "  " }
/^Benchmark/ {
	name = $1
	sub(/^BenchmarkAPIServer\//, "", name)
	sub(/-[0-9]+$/, "", name)
	rate = p50 = p99 = ratio = "-"
	for (i = 5; i < NF; i += 2) {
		v = $i; unit = $(i + 1)
		if (unit == "req/s") rate = sprintf("%.1f", v)
		else if (unit == "p50-ms") p50 = sprintf("%.2f", v)
		else if (unit == "p99-ms") p99 = sprintf("%.2f", v)
		else if (unit ~ /^x-/) { sub(/^x-/, "", unit); ratio = sprintf("%.2fx %s", v, unit) }
	}
	rows[++n] = sprintf("| %-20s | %10s | %9s | %9s | %-24s |", name, rate, p50, p99, ratio)
}
END {
	if (n == 0) { print "bench: no benchmark results" > "/dev/stderr"; exit 1 }
	print info
	printf "| %-20s | %10s | %9s | %9s | %-24s |\n", "operation", "req/s", "p50 ms", "p99 ms", "vs baseline (same run)"
	printf "|%s|%s|%s|%s|%s|\n", "----------------------", "------------", "-----------", "-----------", "--------------------------"
	for (i = 1; i <= n; i++) print rows[i]
	print ""
	print "create/* rates are relative to create/ConfigMap; list/* p50 relative to get/Service p50;"
	print "watch/* latency is from the start of an update to the event at each watcher, relative to one watcher."
}' "$raw"
