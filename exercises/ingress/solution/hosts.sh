kubectl -n ex-ingress create ingress hosts \
  --rule='one.ex-ingress.test/*=app1:80' \
  --rule='two.ex-ingress.test/*=app2:80'
