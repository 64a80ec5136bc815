// Package bench measures svclab's kube-proxy modes against the real kernel, in network
// namespaces it creates and deletes: full and one-endpoint sync times at 100 to 10,000
// Services, and HTTP through a ClusterIP against the same traffic sent straight to a pod.
package bench
