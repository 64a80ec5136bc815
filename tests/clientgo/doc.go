// Package clientgo holds integration tests that drive the svclab API server with client-go informers.
package clientgo
