kubectl create namespace ex-nodeport
kubectl -n ex-nodeport create deployment web --image=svclab.local/agent --replicas=3 --port=80
kubectl -n ex-nodeport rollout status deployment web --timeout=120s
