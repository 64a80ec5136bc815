// Package persistence tests that the svclab API server, killed with SIGKILL and restarted on the
// same data directory, keeps every acknowledged write and keeps resourceVersions monotonic.
package persistence
