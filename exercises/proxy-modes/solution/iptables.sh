kubectl -n ex-proxy-modes patch service web -p '{"spec":{"type":"NodePort"}}'
node=$(kubectl get nodes -o jsonpath='{.items[1].metadata.name}')
svclab node exec "$node" -- iptables-save -t nat | grep ex-proxy-modes/web
svclab trace --node "$node" \
  --from "$(kubectl -n ex-proxy-modes get pod client -o jsonpath='{.status.podIP}')" \
  --to "$(kubectl -n ex-proxy-modes get service web -o jsonpath='{.spec.clusterIP}'):80/tcp"
