kubectl -n ex-externalname apply -f solution/db-internal.yaml
kubectl -n ex-externalname rollout status deployment db --timeout=120s
kubectl -n ex-externalname get service db
