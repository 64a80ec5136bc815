kubectl -n ex-service-mesh create service clusterip web-metrics --tcp=15000:15000
kubectl -n ex-service-mesh patch service web-metrics -p '{"spec":{"selector":{"app":"web"}}}'
kubectl -n ex-service-mesh exec client -- /svclab curl -s http://web-metrics:15000/stats
