kubectl -n ex-service-mesh delete deployment web --wait=true
kubectl apply -f solution/web-sidecar.yaml
kubectl -n ex-service-mesh rollout status deployment web --timeout=180s
for i in $(seq 5); do kubectl -n ex-service-mesh exec client -- /svclab curl -s http://web/echo; done
