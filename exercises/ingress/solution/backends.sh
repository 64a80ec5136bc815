kubectl create namespace ex-ingress
kubectl -n ex-ingress create deployment app1 --image=docker.io/svclab/agent:v1 --replicas=2 --port=80
kubectl -n ex-ingress create deployment app2 --image=docker.io/svclab/agent:v2 --replicas=2 --port=80
kubectl -n ex-ingress expose deployment app1 --port=80
kubectl -n ex-ingress expose deployment app2 --port=80
kubectl -n ex-ingress rollout status deployment app1 --timeout=120s
kubectl -n ex-ingress rollout status deployment app2 --timeout=120s
