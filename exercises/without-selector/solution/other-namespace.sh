kubectl create namespace ex-without-selector-backend
kubectl -n ex-without-selector-backend apply -f solution/backend.yaml
kubectl -n ex-without-selector-backend rollout status deployment api --timeout=120s
kubectl -n ex-without-selector apply -f solution/api-alias.yaml
