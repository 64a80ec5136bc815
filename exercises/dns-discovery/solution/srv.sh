kubectl -n ex-dns-discovery patch service web --type=json \
  -p '[{"op": "add", "path": "/spec/ports/0/name", "value": "http"}]'
