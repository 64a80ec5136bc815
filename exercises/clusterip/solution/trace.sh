kubectl -n ex-clusterip scale deployment web --replicas=4
kubectl -n ex-clusterip rollout status deployment web --timeout=120s
