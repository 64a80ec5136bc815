dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" \
  -subj '/CN=secure.ex-ingress.test' -addext 'subjectAltName=DNS:secure.ex-ingress.test'
kubectl -n ex-ingress create secret tls secure --cert="$dir/tls.crt" --key="$dir/tls.key"
kubectl -n ex-ingress create ingress secure --rule='secure.ex-ingress.test/*=app1:80,tls=secure'
