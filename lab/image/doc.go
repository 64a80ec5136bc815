// Package image builds the lab's built-in pod image — the svclab binary itself in a one-layer
// OCI image — as an OCI tarball, and answers which references name it.
package image
