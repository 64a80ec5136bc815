# minReadySeconds: a new pod counts as available only after it has been ready this long,
# so with maxUnavailable 0 the rollout adds its surge pods and then waits: both versions serve.
kubectl -n ex-update-pattern patch deployment rolling -p '{"spec":{"minReadySeconds":300}}'
kubectl -n ex-update-pattern set image deployment/rolling agent=docker.io/svclab/agent:v2
kubectl -n ex-update-pattern rollout pause deployment/rolling
# Wait until the two surge pods (v2) are ready beside the four v1 pods.
for i in $(seq 60); do
  ready=$(kubectl -n ex-update-pattern get endpointslices -l kubernetes.io/service-name=rolling \
    -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}x{end}')
  [ "${#ready}" -ge 6 ] && break
  sleep 1
done
kubectl -n ex-update-pattern get pods -L app -o wide
