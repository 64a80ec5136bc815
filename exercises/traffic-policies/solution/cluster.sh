kubectl -n ex-traffic-policies expose deployment solo --type=NodePort --port=80
sleep 2
