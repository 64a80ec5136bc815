kubectl -n ex-nodeport expose deployment web --type=NodePort --port=80
port=$(kubectl -n ex-nodeport get service web -o jsonpath='{.spec.ports[0].nodePort}')
echo "web is on port $port of every node"
