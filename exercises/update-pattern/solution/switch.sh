kubectl -n ex-update-pattern patch service web -p '{"spec":{"selector":{"app":"web","version":"v2"}}}'
