kubectl create namespace ex-loadbalancer
kubectl -n ex-loadbalancer create deployment web --image=svclab.local/agent --replicas=3 --port=80
kubectl -n ex-loadbalancer rollout status deployment web --timeout=120s
