kubectl -n ex-loadbalancer delete service web --ignore-not-found
kubectl -n ex-loadbalancer apply -f solution/web-lb.yaml
for i in $(seq 60); do
  ip=$(kubectl -n ex-loadbalancer get service web -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
  if [ -n "$ip" ]; then echo "web has the external address $ip"; exit 0; fi
  sleep 1
done
echo "no external address after 60s" >&2
exit 1
