kubectl apply -f solution/web.yaml
kubectl -n ex-update-pattern rollout status deployment web-v1 --timeout=120s
kubectl -n ex-update-pattern rollout status deployment web-v2 --timeout=120s
