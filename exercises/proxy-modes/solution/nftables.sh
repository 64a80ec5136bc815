source solution/set-mode
set_mode nftables
node=$(kubectl get nodes -o jsonpath='{.items[1].metadata.name}')
svclab node exec "$node" -- nft list table ip kube-proxy | grep ex-proxy-modes/web
