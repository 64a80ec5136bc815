kubectl -n ex-traffic-policies patch service web -p '{"spec":{"sessionAffinity":"ClientIP"}}'
sleep 2
