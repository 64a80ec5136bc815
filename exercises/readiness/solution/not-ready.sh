pod=$(kubectl -n ex-readiness get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
kubectl -n ex-readiness exec "$pod" -- /svclab curl -s -X POST 'http://127.0.0.1/ready?value=false'
kubectl -n ex-readiness wait --for=condition=Ready=false "pod/$pod" --timeout=60s
