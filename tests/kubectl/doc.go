// Package kubectl holds API compatibility tests that drive svclab's API server with the real
// kubectl binaries (1.27, 1.32 and 1.33) and assert on what kubectl prints.
package kubectl
