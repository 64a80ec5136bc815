kubectl create namespace ex-kubectl-proxy
kubectl -n ex-kubectl-proxy create deployment web --image=svclab.local/agent --replicas=2 --port=80
kubectl -n ex-kubectl-proxy expose deployment web --port=80
kubectl -n ex-kubectl-proxy rollout status deployment web --timeout=120s
