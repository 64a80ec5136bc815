kubectl -n ex-update-pattern patch deployment rolling -p '{"spec":{"minReadySeconds":0}}'
kubectl -n ex-update-pattern rollout resume deployment/rolling
kubectl -n ex-update-pattern rollout status deployment/rolling --timeout=180s
