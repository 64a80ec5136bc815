#!/usr/bin/env bash
# bench-lab.sh measures the lab's lifecycle with the real binary (lab/labbench): the time
# from `svclab up` to 3 nodes Ready plus a 3-replica deployment Running, the lab process's
# peak RSS and the time of `svclab down`, per runtime, and prints them as a table with the
# containerd/process ratios of the same run; then cluster DNS queries per second from a pod
# through the kube-dns Service against the same load sent straight to the DNS pod; and HTTP
# through the ingress controller against one backend pod directly and against nginx. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export CGO_ENABLED=0
if [[ -z "${SVCLAB_BIN:-}" ]]; then
	$GO build -trimpath -ldflags='-s -w' -o bin/svclab ./cmd/svclab
	export SVCLAB_BIN=$PWD/bin/svclab
fi
# The ingress benchmark compares with Debian's nginx as a reverse proxy.
if ! command -v nginx >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null 2>&1 || echo "bench-lab: nginx not installed; the nginx comparison is skipped" >&2
fi
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
echo "running: $GO test -run '^\$' -bench . -benchtime ${BENCHTIME:-1x} ./lab/labbench/" >&2
if ! "$GO" test -trimpath -run '^$' -bench . -benchtime "${BENCHTIME:-1x}" -timeout 10m ./lab/labbench/ 2>/dev/null >"$raw"; then
	cat "$raw" >&2
	echo "bench-lab: go test failed" >&2
	exit 1
fi
awk '
/^BenchmarkDNS/ {
	for (i = 3; i < NF; i += 2) { m[$(i + 1)] = $i }
	dns = sprintf("| %-20s | %8.0f | %7.3f | %7.3f | %8.0f | %6.3fx | %6.2fx |", "DNS via kube-dns Svc", m["qps"], m["p50-ms"], m["p99-ms"], m["direct-qps"], m["x-vs-direct"], m["x-p50-vs-direct"])
	next
}
/^BenchmarkIngress/ {
	for (i = 3; i < NF; i += 2) { g[$(i + 1)] = $i }
	ing = sprintf("| %-20s | %8.0f | %7.3f | %7.3f | %8.0f | %7.3fx | %9s | %7s |", "ingress (keep-alive)", g["req/s"], g["p50-ms"], g["p99-ms"], g["direct-req/s"], g["x-vs-direct"], (g["nginx-req/s"] == "" ? "-" : sprintf("%.0f", g["nginx-req/s"])), (g["x-vs-nginx"] == "" ? "-" : sprintf("%.3fx", g["x-vs-nginx"])))
	if (g["pod-req/s"] != "") ingpod = sprintf("| %-20s | %8.0f | %7s | %7s | %8.0f | %7.3fx | %9s | %7s |", "ingress via pod IP", g["pod-req/s"], "-", "-", g["direct-req/s"], g["pod-req/s"] / g["direct-req/s"], (g["nginx-req/s"] == "" ? "-" : sprintf("%.0f", g["nginx-req/s"])), (g["x-vs-nginx-pod"] == "" ? "-" : sprintf("%.3fx", g["x-vs-nginx-pod"])))
	if (g["nginx-pod-req/s"] != "") ingns = sprintf("| %-20s | %8.0f | %7s | %7s | %8.0f | %7.3fx | %9.0f | %7.3fx |", "ingress vs nginx, same netns", g["pod-req/s"], "-", "-", g["direct-req/s"], g["pod-req/s"] / g["direct-req/s"], g["nginx-pod-req/s"], g["x-vs-nginx-same-netns"])
	next
}
/^BenchmarkLab/ {
	name = $1; sub(/^BenchmarkLab\//, "", name); sub(/-[0-9]+$/, "", name)
	up = down = rss = xup = xdown = "-"
	for (i = 3; i < NF; i += 2) {
		v = $i; u = $(i + 1)
		if (u == "s-up-to-ready") up = sprintf("%.2f", v)
		else if (u == "s-down") down = sprintf("%.2f", v)
		else if (u == "MiB-peak-rss") rss = sprintf("%.0f", v)
		else if (u == "x-up-vs-process") xup = sprintf("%.2fx", v)
		else if (u == "x-down-vs-process") xdown = sprintf("%.2fx", v)
	}
	rows[++n] = sprintf("| %-18s | %12s | %9s | %9s | %13s | %14s |", name, up, rss, down, xup, xdown)
}
END {
	if (n == 0) { print "bench-lab: no results" > "/dev/stderr"; exit 1 }
	printf "| %-18s | %12s | %9s | %9s | %13s | %14s |\n", "lab", "up+3 pods s", "peak MiB", "down s", "up vs process", "down vs process"
	print "|--------------------|--------------|-----------|-----------|---------------|----------------|"
	for (i = 1; i <= n; i++) print rows[i]
	print ""
	print "aims: up to 3 nodes Ready + 3 pods Running under 1.5 s (process) and 3 s (containerd); lab process under 150 MB"
	if (ing != "") {
		print ""
		printf "| %-20s | %8s | %7s | %7s | %8s | %8s | %9s | %7s |\n", "HTTP, 3 backends", "req/s", "p50 ms", "p99 ms", "direct", "vs direct", "nginx", "vs nginx"
		print "|----------------------|----------|---------|---------|----------|----------|-----------|---------|"
		print ing
		if (ingpod != "") print ingpod
		if (ingns != "") print ingns
		print "aim: at least as fast as nginx (nginx runs on the host and is reached without the NodePort hop, like the pod IP row)"
	}
	if (dns != "") {
		print ""
		printf "| %-20s | %8s | %7s | %7s | %8s | %7s | %7s |\n", "DNS (pod on another node)", "qps", "p50 ms", "p99 ms", "direct qps", "qps vs direct", "p50 vs direct"
		print "|----------------------|----------|---------|---------|----------|---------|---------|"
		print dns
	}
}' "$raw"
