// Package bench holds the API server benchmarks behind `make bench`: Service and Endpoints
// creation, lists and watch fan-out, each reported with rates, p50/p99 latencies and ratios
// against a baseline measured in the same run.
package bench
