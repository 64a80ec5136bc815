kubectl -n ex-traffic-policies create deployment web --image=svclab.local/agent --replicas=3 --port=80
kubectl -n ex-traffic-policies expose deployment web --port=80
kubectl -n ex-traffic-policies run client --image=svclab.local/agent
kubectl -n ex-traffic-policies rollout status deployment web --timeout=120s
kubectl -n ex-traffic-policies wait --for=condition=Ready pod/client --timeout=120s
