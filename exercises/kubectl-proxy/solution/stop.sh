pidfile="${TMPDIR:-/tmp}/svclab-${SVCLAB_NAME:-svclab}-kubectl-proxy.pid"
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  # only the kubectl proxy this exercise started
  if grep -qa 'proxy' "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
fi
