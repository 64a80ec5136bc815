// Package servicetest provides an in-memory IPAddressStore for tests of the service allocators.
package servicetest
