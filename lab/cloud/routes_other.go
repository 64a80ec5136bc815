//go:build !linux

package cloud

import (
	"errors"
	"net/netip"
)

// NewRoutes is only available on Linux.
func NewRoutes(lab string, pool netip.Prefix) (Routes, error) {
	return nil, errors.New("cloud: host routes need Linux")
}
