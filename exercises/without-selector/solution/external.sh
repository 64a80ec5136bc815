kubectl create namespace ex-without-selector
kubectl -n ex-without-selector run client --image=svclab.local/agent
# the external app belongs to the lab, not to a namespace: start it unless it runs already
if ! svclab external ls | awk '$1 == "legacy" && /running/ {found = 1} END {exit !found}'; then
  svclab external rm legacy >/dev/null 2>&1 || true
  svclab external run legacy
fi
kubectl -n ex-without-selector wait --for=condition=Ready pod/client --timeout=120s
