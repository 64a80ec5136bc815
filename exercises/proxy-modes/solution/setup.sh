kubectl create namespace ex-proxy-modes
kubectl -n ex-proxy-modes create deployment web --image=svclab.local/agent --replicas=3 --port=80
kubectl -n ex-proxy-modes expose deployment web --port=80
kubectl -n ex-proxy-modes run client --image=svclab.local/agent
kubectl -n ex-proxy-modes rollout status deployment web --timeout=120s
kubectl -n ex-proxy-modes wait --for=condition=Ready pod/client --timeout=120s
