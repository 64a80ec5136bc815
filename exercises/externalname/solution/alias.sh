kubectl create namespace ex-externalname
kubectl -n ex-externalname run client --image=svclab.local/agent
kubectl -n ex-externalname apply -f solution/db-external.yaml
kubectl -n ex-externalname wait --for=condition=Ready pod/client --timeout=120s
