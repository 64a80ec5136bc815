kubectl -n ex-ingress create ingress fanout \
  --rule='shop.ex-ingress.test/app1*=app1:80' \
  --rule='shop.ex-ingress.test/app2*=app2:80'
