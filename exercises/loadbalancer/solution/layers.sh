kubectl -n ex-loadbalancer run client --image=svclab.local/agent
kubectl -n ex-loadbalancer wait --for=condition=Ready pod/client --timeout=120s
