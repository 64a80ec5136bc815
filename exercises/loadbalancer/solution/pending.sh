kubectl -n ex-loadbalancer apply -f solution/web-pending.yaml
kubectl -n ex-loadbalancer get service web
