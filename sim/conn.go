package sim

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// Subscription bits of a contract on a connection.
const (
	subQuote uint8 = 1 << kindQuote
	subDOM   uint8 = 1 << kindDOM
)

// outItem is one thing the writer must send, in order: a message to batch
// into a[...], a raw frame, or the end of the connection.
type outItem struct {
	msg   []byte // one element of a[...]
	raw   []byte // a whole frame written as is
	pong  []byte // a WebSocket pong with this payload (non-nil)
	close bool   // send c[code,"reason"] and a WebSocket close, then cut
	code  int
	text  string
	cause string // ground-truth end cause when close is set
}

// conn is one WebSocket connection. The handler goroutine reads, the
// writer goroutine writes; everything else talks to them through the
// fields under mu and the wake channel.
type conn struct {
	s       *Server
	id      int64
	ws      *websocket.Conn
	created time.Time
	ip      string // client address without port
	log     zerolog.Logger

	done    chan struct{} // closed by end
	wake    chan struct{} // cap 1: something to write
	endOnce sync.Once

	mu         sync.Mutex
	ctrl       []outItem
	md         []*update
	subs       map[int64]uint8
	sess       *session  // set by authorize
	silent     bool      // token expired under TokenSilent: no md data
	stallUntil time.Time // half-open stall: neither read nor write before
	quotaHit   bool      // already being closed for the connection quota
	blastReady bool      // subscribed to everything a blast sends
	cause      string    // why it ended; set once by claim

	// owned by the reader
	seen     map[int64]struct{}
	recent   []time.Time // request times within the last second
	window   []time.Time // request times within the lockout window
	lockedTo time.Time
}

// serveWS upgrades /v1/websocket and runs the connection until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "WebSocket upgrade required", http.StatusBadRequest)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	// No gorilla read limit: it would answer an oversized frame with a
	// close frame, while the rule is enforced by a cut (see readFrame).
	if tc, ok := ws.NetConn().(*net.TCPConn); ok && s.cfg.SocketBuffer > 0 {
		_ = tc.SetWriteBuffer(s.cfg.SocketBuffer) // best effort
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.nextConn++
	c := &conn{
		s: s, id: s.nextConn, ws: ws, created: time.Now(), ip: clientIP(r.RemoteAddr),
		done: make(chan struct{}), wake: make(chan struct{}, 1),
		subs: make(map[int64]uint8), seen: make(map[int64]struct{}),
	}
	c.log = s.log.With().Int64("conn", c.id).Logger()
	if s.blast != nil {
		// A blast writes to the socket directly: pongs must go through
		// the writer goroutine too, never from the reader.
		ws.SetPingHandler(func(data string) error {
			c.mu.Lock()
			c.ctrl = append(c.ctrl, outItem{pong: append([]byte{}, data...)})
			c.mu.Unlock()
			c.signal()
			return nil
		})
	}
	s.conns[c.id] = c
	s.wg.Add(1)
	s.mu.Unlock()
	c.log.Debug().Str("remote", r.RemoteAddr).Msg("connection open")

	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	c.readLoop() // returns once the connection has ended
}

// clientIP strips the port from a remote address.
func clientIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// end cuts the connection once, with cause. It never sends a close frame.
func (c *conn) end(cause string) {
	c.claim(cause)
	c.endOnce.Do(func() {
		_ = c.ws.Close() // TCP close, no WebSocket close frame
		close(c.done)
		c.s.mu.Lock()
		delete(c.s.conns, c.id)
		c.s.mu.Unlock()
		c.log.Info().Str("cause", c.endCause()).Msg("connection ended")
	})
}

// claim sets the end cause unless one is set already: a close in progress
// keeps its cause even if something else ends the connection meanwhile.
func (c *conn) claim(cause string) {
	c.mu.Lock()
	if c.cause == "" {
		c.cause = cause
	}
	c.mu.Unlock()
}

// endCause returns the cause the connection ended with.
func (c *conn) endCause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// signal wakes the writer.
func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send queues a message (response or event) for the next a[...] frame.
func (c *conn) send(msg []byte) {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, outItem{msg: msg})
	over := len(c.ctrl) > maxCtrl
	c.mu.Unlock()
	if over {
		c.end(EndSendOverflow)
		return
	}
	c.signal()
}

// sendRaw queues a frame written exactly as given.
func (c *conn) sendRaw(frame []byte) {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, outItem{raw: frame})
	c.mu.Unlock()
	c.signal()
}

// sendClose queues c[code,"text"], a WebSocket close and the cut.
func (c *conn) sendClose(code int, text, cause string) {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, outItem{close: true, code: code, text: text, cause: cause})
	c.mu.Unlock()
	c.signal()
}

// push queues an md update if the connection is subscribed to it,
// conflating when the send queue is full.
func (c *conn) push(u *update) {
	c.mu.Lock()
	if c.subs[u.c.ID]&(1<<u.kind) == 0 || c.silent {
		c.mu.Unlock()
		return
	}
	if len(c.md) < c.s.cfg.SendQueue {
		c.md = append(c.md, u)
	} else {
		c.s.conflated.Add(1)
		merged := false
		for i := len(c.md) - 1; i >= 0; i-- {
			if old := c.md[i]; old.c == u.c && old.kind == u.kind {
				nu := *u // shared with other connections: merge into a copy
				nu.merge(old)
				c.md[i] = &nu
				merged = true
				break
			}
		}
		if !merged { // drop the stalest update
			copy(c.md, c.md[1:])
			c.md[len(c.md)-1] = u
		}
	}
	c.mu.Unlock()
	c.signal()
}

// stallLeft returns how long the connection is still stalled.
func (c *conn) stallLeft(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stallUntil.Sub(now)
}

// waitStall blocks while the connection is stalled; false if it ended.
func (c *conn) waitStall() bool {
	for {
		d := c.stallLeft(time.Now())
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-c.done:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// readLoop reads client frames until the connection ends.
func (c *conn) readLoop() {
	rules := &c.s.cfg.Rules
	var buf []byte
	for {
		if rules.ClientTimeout > 0 {
			_ = c.ws.SetReadDeadline(time.Now().Add(rules.ClientTimeout))
		}
		typ, data, err := c.readFrame(buf[:0])
		if err != nil {
			c.end(readCause(err))
			return
		}
		buf = data
		if !c.waitStall() { // half-open: what arrived is not processed before the stall ends
			return
		}
		if typ != websocket.TextMessage {
			c.end(EndProtocolError)
			return
		}
		if cause := c.handle(data, time.Now()); cause != "" {
			c.end(cause)
			return
		}
	}
}

// errFrameTooLarge: a client frame exceeded Rules.MaxFrameBytes.
var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one client message into buf, refusing one larger than
// Rules.MaxFrameBytes.
func (c *conn) readFrame(buf []byte) (int, []byte, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	limit := c.s.cfg.Rules.MaxFrameBytes
	w := bytes.NewBuffer(buf)
	n, err := io.Copy(w, io.LimitReader(r, limit+1))
	if err != nil {
		return 0, nil, err
	}
	if n > limit {
		return 0, nil, errFrameTooLarge
	}
	return typ, w.Bytes(), nil
}

// readCause names why a read failed.
func readCause(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return EndClientTimeout
	case errors.Is(err, errFrameTooLarge):
		return EndFrameTooLarge
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		return EndClientClose // the client sent a close frame
	}
	if errors.Is(err, net.ErrClosed) {
		return EndClientEOF
	}
	return EndClientEOF
}
