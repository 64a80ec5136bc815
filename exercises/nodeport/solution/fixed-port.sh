kubectl -n ex-nodeport apply -f solution/shop.yaml
kubectl -n ex-nodeport rollout status deployment shop-v1 --timeout=120s
kubectl -n ex-nodeport rollout status deployment shop-v2 --timeout=120s
