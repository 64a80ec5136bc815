#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages svclab and its tests use, only when something is missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have containerd || need+=(containerd)
have runc || need+=(runc)
have iptables || need+=(iptables)
have nft || need+=(nftables)
have ipset || need+=(ipset)
have ipvsadm || need+=(ipvsadm)
have conntrack || need+=(conntrack)
have ping || need+=(iputils-ping)
have dig || need+=(dnsutils)
have curl || need+=(curl)
have xmllint || need+=(libxml2-utils)   # svclab grade's JUnit output is validated against its schema
# The web UI's browser test (tests/browser): Debian's chromium, and Node.js with npm for
# playwright-core (a Node.js that brings its own npm, e.g. NodeSource's, is kept as it is).
[ -x /usr/bin/chromium ] || need+=(chromium)
have node || need+=(nodejs)
have npm || need+=(npm)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "svclab: missing packages: ${need[*]}; run as root (sudo make ...) to install them" >&2
  exit 1
fi
echo "svclab: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${need[@]}"
