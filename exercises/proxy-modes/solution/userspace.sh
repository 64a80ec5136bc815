source solution/set-mode
set_mode userspace
node=$(kubectl get nodes -o jsonpath='{.items[1].metadata.name}')
svclab node exec "$node" -- iptables-save -t nat | grep KUBE-PORTALS | grep ex-proxy-modes/web
