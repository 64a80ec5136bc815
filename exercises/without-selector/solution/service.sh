ip=$(svclab external ls | awk '$1 == "legacy" {print $2}')
test -n "$ip"
kubectl -n ex-without-selector apply -f - <<YAML
apiVersion: v1
kind: Service
metadata:
  name: legacy
spec:
  ports:
  - name: http
    port: 80
    targetPort: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: legacy-1
  labels:
    kubernetes.io/service-name: legacy
addressType: IPv4
ports:
- name: http
  port: 80
  protocol: TCP
endpoints:
- addresses: ["$ip"]
YAML
