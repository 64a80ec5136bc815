kubectl create namespace ex-update-pattern
kubectl apply -f solution/rolling.yaml
kubectl -n ex-update-pattern expose deployment rolling --type=NodePort --port=80 --target-port=http
kubectl -n ex-update-pattern run client --image=svclab.local/agent
kubectl -n ex-update-pattern rollout status deployment rolling --timeout=120s
kubectl -n ex-update-pattern wait --for=condition=Ready pod/client --timeout=120s
