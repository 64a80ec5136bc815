kubectl -n ex-traffic-policies patch service solo -p '{"spec":{"externalTrafficPolicy":"Local"}}'
sleep 2
