package lab

import (
	"context"
	"net"
)

type netDialer struct{}

func (netDialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}
