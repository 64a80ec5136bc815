kubectl create namespace ex-traffic-policies
node=$(kubectl get nodes -o jsonpath='{.items[1].metadata.name}')
kubectl -n ex-traffic-policies create deployment solo --image=svclab.local/agent --port=80
kubectl -n ex-traffic-policies patch deployment solo -p "{\"spec\":{\"template\":{\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"$node\"}}}}}"
kubectl -n ex-traffic-policies rollout status deployment solo --timeout=120s
