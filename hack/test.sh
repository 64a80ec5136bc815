#!/usr/bin/env bash
# Runs every test (unit, API compatibility with real kubectl and client-go, privileged
# end-to-end when root) and ends with a "N passed, N failed, N skipped" line.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
log=$(mktemp /tmp/svclab-test.XXXXXX)
trap 'rm -f "$log"' EXIT
if [ "$(id -u)" -eq 0 ]; then
  export SVCLAB_CI_PRIVILEGED=1   # privileged tests must run, not skip
fi
go test -count=1 -timeout 25m -v "${@:-./...}" 2>&1 | tee "$log" | grep -E '^(=== RUN|--- (FAIL|SKIP)|FAIL|ok|PASS|panic:|\s+.*_test\.go:[0-9]+:)' | grep -v '^=== RUN'
status=${PIPESTATUS[0]}
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
skipped=$(grep -cE '^\s*--- SKIP' "$log")
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests:"
  grep -E -A1 '^\s*--- SKIP' "$log" | grep -vE '^--$' | sed 's/^/  /'
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
