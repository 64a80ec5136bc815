for pod in $(kubectl -n ex-readiness get pods -l app=web -o jsonpath='{.items[*].metadata.name}'); do
  kubectl -n ex-readiness exec "$pod" -- /svclab curl -s -X POST 'http://127.0.0.1/ready?value=true'
done
kubectl -n ex-readiness wait --for=condition=Ready pods -l app=web --timeout=60s
