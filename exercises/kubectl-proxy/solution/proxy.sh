# kubectl proxy runs in the background, in its own session (it outlives this script); its
# pid goes to a file so the step "stop" can end exactly this process.
pidfile="${TMPDIR:-/tmp}/svclab-${SVCLAB_NAME:-svclab}-kubectl-proxy.pid"
logfile="${TMPDIR:-/tmp}/svclab-${SVCLAB_NAME:-svclab}-kubectl-proxy.log"
setsid nohup kubectl proxy --port=8199 >"$logfile" 2>&1 </dev/null &
echo $! >"$pidfile"
for i in $(seq 50); do
  if curl -sf -o /dev/null http://127.0.0.1:8199/api/v1/namespaces/ex-kubectl-proxy/services/web:80/proxy/; then
    echo "kubectl proxy (pid $(cat "$pidfile")) serves on 127.0.0.1:8199"
    exit 0
  fi
  sleep 0.2
done
echo "kubectl proxy does not answer on 127.0.0.1:8199:" >&2
cat "$logfile" >&2
exit 1
