// Package controllertest provides a fake clientset and cache-refresh helpers for unit-testing svclab's controllers without an API server.
package controllertest
