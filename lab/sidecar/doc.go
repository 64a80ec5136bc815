// Package sidecar is `svclab sidecar`: a tiny HTTP proxy that runs beside an app in the same pod,
// as a service mesh's data-plane proxy does, adding headers, retries, an access log and metrics
// to every request it passes to the app.
package sidecar
