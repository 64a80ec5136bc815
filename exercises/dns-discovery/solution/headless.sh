kubectl -n ex-dns-discovery apply -f solution/web-headless.yaml
