kubectl -n ex-clusterip expose deployment web --port=80
kubectl -n ex-clusterip get service web
