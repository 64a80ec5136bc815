kubectl -n ex-dns-discovery apply -f solution/db-0.yaml
kubectl -n ex-dns-discovery wait --for=condition=Ready pod/db-0 --timeout=120s
