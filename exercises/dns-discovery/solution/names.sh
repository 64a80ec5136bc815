kubectl create namespace ex-dns-discovery
kubectl -n ex-dns-discovery create deployment web --image=svclab.local/agent --replicas=3 --port=80
kubectl -n ex-dns-discovery expose deployment web --port=80
kubectl -n ex-dns-discovery run client --image=svclab.local/agent
kubectl -n ex-dns-discovery rollout status deployment web --timeout=120s
kubectl -n ex-dns-discovery wait --for=condition=Ready pod/client --timeout=120s
