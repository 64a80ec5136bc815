#!/usr/bin/env bash
# Runs every test (unit, API compatibility with real kubectl and client-go, privileged
# end-to-end when root) and ends with a "N passed, N failed, N skipped" line.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath"  # same build cache as the static binary
log=$(mktemp /tmp/svclab-test.XXXXXX)
trap 'rm -f "$log"' EXIT
# Tests that run the real binary use the one `make test` just built.
export SVCLAB_BIN="$PWD/bin/svclab"
if [ "$(id -u)" -eq 0 ]; then
  export SVCLAB_CI_PRIVILEGED=1   # privileged tests must run, not skip
fi
# The browser test's npm packages (playwright-core, pinned by tests/browser/package-lock.json).
if command -v npm >/dev/null 2>&1; then
  if ! npm ci --prefix tests/browser --prefer-offline --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "svclab: \`npm ci --prefix tests/browser\` failed, so the browser test cannot run (it needs the npm registry, or playwright-core in npm's cache):" >&2
    cat "$log" >&2
  fi
else
  echo "svclab: npm is not installed, so the browser test cannot run: sudo make deps" >&2
fi
pkgs=("${@:-./...}")
show() { grep --line-buffered -E '^(--- (FAIL|SKIP)|FAIL|ok|panic:|\s+.*_test\.go:[0-9]+:)'; }
# Phase 1: everything but the privileged tests, packages in parallel.
go test -count=1 -timeout 20m -v -skip '^TestPrivileged' "${pkgs[@]}" 2>&1 | tee "$log" | show
status=${PIPESTATUS[0]}
# Phase 2: privileged tests one package at a time: they check host-wide state (links,
# namespaces, routes) before and after, so two packages must not run side by side.
go test -count=1 -timeout 20m -v -p 1 -run '^TestPrivileged' "${pkgs[@]}" 2>&1 | tee -a "$log" | grep -v 'no tests to run' | show
status2=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && status=$status2
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
skipped=$(grep -cE '^\s*--- SKIP' "$log")
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests:"
  # go test -v prints a skip's reason just before its "--- SKIP" line.
  awk '/^[[:space:]]*--- SKIP/ { print "  " $0; if (prev ~ /_test\.go:[0-9]+:/) print "    " prev } { prev = $0 }' "$log"
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
