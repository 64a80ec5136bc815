kubectl create namespace ex-readiness
kubectl apply -f solution/web.yaml
kubectl -n ex-readiness expose deployment web --port=80 --target-port=http
kubectl -n ex-readiness run client --image=svclab.local/agent
kubectl -n ex-readiness rollout status deployment web --timeout=120s
kubectl -n ex-readiness wait --for=condition=Ready pod/client --timeout=120s
