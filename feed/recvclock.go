package feed

import (
	"context"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// recvClock wraps the network connection under a WebSocket and notes
// when each of its reads returned. A frame's receive time is the time of
// the read that brought its last byte: under load one read brings many
// frames, and they share one clock reading instead of taking one each
// (reading the clock costs as much as decoding a small frame).
//
// Only the connection's reader calls Read once the connection is up; the
// handshake's reads happen on the dialing goroutine before the reader
// starts, so last needs no lock.
type recvClock struct {
	net.Conn
	last time.Time
}

// Read reads from the connection and notes the time it returned.
func (c *recvClock) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.last = time.Now()
	return n, err
}

// clockedDialer returns a copy of d whose network connections are
// wrapped in a recvClock, and a function that returns the clock of the
// last connection it dialled (nil if none). d itself is not changed.
func clockedDialer(d *websocket.Dialer) (*websocket.Dialer, func() *recvClock) {
	c := *d
	var clock *recvClock
	wrap := func(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			clock = &recvClock{Conn: nc}
			return clock, nil
		}
	}
	base := d.NetDialContext
	if base == nil {
		if nd := d.NetDial; nd != nil {
			base = func(_ context.Context, network, addr string) (net.Conn, error) { return nd(network, addr) }
		} else {
			var nd net.Dialer
			base = nd.DialContext
		}
	}
	c.NetDialContext = wrap(base)
	c.NetDial = nil
	if d.NetDialTLSContext != nil {
		c.NetDialTLSContext = wrap(d.NetDialTLSContext)
	}
	return &c, func() *recvClock { return clock }
}
