kubectl create namespace ex-clusterip
kubectl -n ex-clusterip create deployment web --image=svclab.local/agent --replicas=3 --port=80
kubectl -n ex-clusterip run client --image=svclab.local/agent
kubectl -n ex-clusterip rollout status deployment web --timeout=120s
kubectl -n ex-clusterip wait --for=condition=Ready pod/client --timeout=120s
