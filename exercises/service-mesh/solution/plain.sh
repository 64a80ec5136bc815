kubectl create namespace ex-service-mesh
kubectl -n ex-service-mesh create deployment web --image=svclab.local/agent --replicas=2 --port=80
kubectl -n ex-service-mesh expose deployment web --port=80
kubectl -n ex-service-mesh run client --image=svclab.local/agent
kubectl -n ex-service-mesh rollout status deployment web --timeout=120s
kubectl -n ex-service-mesh wait --for=condition=Ready pod/client --timeout=120s
