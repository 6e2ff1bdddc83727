package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/mdcap/mdcap/schema"
)

// conn is one WebSocket connection: exactly one reader goroutine and one
// writer goroutine (an errgroup), plus a watcher that closes the socket
// when the connection's context ends. Every write — heartbeats, pings,
// pongs, requests, the close frame — goes through the writer.
type conn struct {
	s   *Session
	id  int64
	ws  *websocket.Conn
	log zerolog.Logger

	ctx    context.Context // ends when the connection fails or is closed
	cancel context.CancelCauseFunc
	g      errgroup.Group
	done   chan struct{} // closed once reader and writer have ended

	sendq  chan []byte
	ctrl   chan ctrlMsg
	opened chan struct{}
	pend   pendingTable

	connected time.Time    // dial completed (wall + monotonic)
	lastFrame atomic.Int64 // Unix ns of the last frame read; the connect time before any
	lastData  atomic.Int64 // Unix ns of the last frame that carried md data; the connect time before any
	closing   atomic.Bool  // mdcap is closing it on purpose

	// reader-only state
	dec     decoder
	batch   Batch
	buf     []byte
	clock   *recvClock // when the socket's reads returned; nil: read the clock per frame
	sawOpen bool
	armedAt int64 // Unix ns of the last read-deadline push (see arm)
	// lastFrameNS and lastDataNS are the values last stored in lastFrame
	// and lastData: frames of one socket read store them once.
	lastFrameNS, lastDataNS int64
	// authToken is the md token this connection authorized with
	// (supervisor-only).
	authToken Secret
	rotating  bool // opened as the next connection of a rotation

	// under s.emitMu
	fold        anomalyFold
	foldPending atomic.Bool
	subCount    map[string]bool // symbols announced subscribed on this connection
}

type ctrlKind uint8

const (
	ctrlPong ctrlKind = iota + 1
	ctrlClose
)

type ctrlMsg struct {
	kind ctrlKind
	data string
}

// closeWait bounds how long a polite close waits for the server's reply.
const closeWait = time.Second

// dial opens connection id and starts its goroutines.
func (s *Session) dial(ctx context.Context, id int64, rotating bool) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	dialer, clockOf := clockedDialer(s.cfg.Dialer)
	ws, resp, err := dialer.DialContext(dctx, s.cfg.MDURL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if perr := untrustedCert("dial market-data socket", err); perr != nil {
			return nil, perr
		}
		if resp != nil {
			return nil, fmt.Errorf("dial market-data socket: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial market-data socket: %w", err)
	}
	c := &conn{
		s:         s,
		id:        id,
		ws:        ws,
		log:       s.log.With().Int64("conn", id).Logger(),
		done:      make(chan struct{}),
		sendq:     make(chan []byte, 64),
		ctrl:      make(chan ctrlMsg, 4),
		opened:    make(chan struct{}),
		connected: time.Now(),
		rotating:  rotating,
		subCount:  map[string]bool{},
		buf:       make([]byte, 0, 64<<10),
		clock:     clockOf(),
	}
	c.lastFrame.Store(c.connected.UnixNano())
	c.lastData.Store(c.connected.UnixNano())
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	ws.SetReadLimit(s.cfg.ReadLimit)
	ws.SetPongHandler(func(string) error { return c.alive() })
	ws.SetPingHandler(func(data string) error {
		select {
		case c.ctrl <- ctrlMsg{kind: ctrlPong, data: data}:
		default:
		}
		return c.alive()
	})
	c.g.Go(c.readLoop)
	c.g.Go(c.writeLoop)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-c.ctx.Done()
		_ = ws.Close() // unblocks the reader
		_ = c.g.Wait()
		c.pend.failAll(context.Cause(c.ctx))
		s.flushAnomalies(c, true)
		close(c.done)
	}()
	return c, nil
}

// alive extends the read deadline: called for every pong and ping.
func (c *conn) alive() error {
	return c.arm(time.Now(), true)
}

// arm pushes the read deadline to StaleAfter plus a slack of StaleAfter/64
// after now, unless it was pushed less than the slack ago and force is
// false: after every frame the deadline lies between StaleAfter and
// StaleAfter·65/64 after it, at the cost of one timer update per slack
// instead of one per frame (a deadline update costs as much as decoding
// a small frame).
func (c *conn) arm(now time.Time, force bool) error {
	slack := c.s.cfg.StaleAfter / 64
	ns := now.UnixNano()
	if !force && c.armedAt != 0 && ns-c.armedAt < int64(slack) && ns >= c.armedAt {
		return nil
	}
	c.armedAt = ns
	return c.ws.SetReadDeadline(now.Add(c.s.cfg.StaleAfter + slack))
}

// fail ends the connection; the first cause wins.
func (c *conn) fail(err error) { c.cancel(err) }

// cause is why the connection ended (valid after done).
func (c *conn) cause() error { return context.Cause(c.ctx) }

// lastFrameTime is the receive time of the last frame read.
func (c *conn) lastFrameTime() time.Time { return time.Unix(0, c.lastFrame.Load()) }

// readLoop is the connection's only reader.
func (c *conn) readLoop() error {
	last := time.Now() // receive time of the last frame
	for {
		if err := c.arm(last, false); err != nil {
			c.fail(c.classify(err))
			return nil
		}
		mt, r, err := c.ws.NextReader()
		if err != nil {
			c.fail(c.classify(err))
			return nil
		}
		c.buf, err = readAll(r, c.buf[:0])
		if err != nil {
			c.fail(c.classify(err))
			return nil
		}
		recv := c.recvTime()
		if ns := recv.UnixNano(); ns != c.lastFrameNS { // frames of one socket read share their time
			c.lastFrame.Store(ns)
			c.lastFrameNS = ns
		}
		last = recv
		c.s.frames.Add(1)
		c.s.bytes.Add(int64(len(c.buf)))
		c.s.flushAnomalies(c, false)
		if mt != websocket.TextMessage {
			c.s.anomaly(c, fmt.Errorf("unexpected binary message of %d bytes", len(c.buf)), c.buf)
			continue
		}
		if err := c.handleFrame(c.buf, recv); err != nil {
			c.fail(err)
			return nil
		}
	}
}

// recvTime is the receive time of the frame just read: when the socket
// read that brought its last byte returned.
func (c *conn) recvTime() time.Time {
	if c.clock != nil && !c.clock.last.IsZero() {
		return c.clock.last
	}
	return time.Now()
}

// readAll reads r into buf, growing it as needed.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// classify maps a read or write error to the drop it means.
func (c *conn) classify(err error) error {
	if c.closing.Load() {
		return errLocalClose
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.CloseAbnormalClosure {
			return &DropError{Reason: schema.ReasonEOF, CloseCode: ce.Code, Err: err}
		}
		return &DropError{Reason: schema.ReasonServerClose, CloseCode: ce.Code, Text: ce.Text}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &DropError{Reason: schema.ReasonStale, Text: "no frame and no pong for " + c.s.cfg.StaleAfter.String(), Err: err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &DropError{Reason: schema.ReasonEOF, Err: err}
	}
	return &DropError{Reason: schema.ReasonReadError, Err: err}
}

// handleFrame processes one server frame on the reader goroutine. A
// returned error ends the connection.
func (c *conn) handleFrame(data []byte, recv time.Time) error {
	f, err := parseFrame(data)
	if err != nil {
		c.s.anomaly(c, fmt.Errorf("parse frame: %w", err), data)
		return nil
	}
	switch f.kind {
	case frameOpen:
		if !c.sawOpen {
			c.sawOpen = true
			close(c.opened)
		}
		return nil
	case frameHeartbeat:
		return nil
	case frameClose:
		return &DropError{Reason: schema.ReasonServerClose, CloseCode: f.code, Text: f.reason}
	}
	if err := c.dec.decode(f.payload, &c.batch); err != nil {
		c.s.anomaly(c, err, data)
		return nil
	}
	if c.dec.skipped > 0 {
		c.s.anomalyN(c, c.dec.skipErr, data, c.dec.skipped)
	}
	var shutdown []byte
	for i := range c.dec.msgs {
		m := &c.dec.msgs[i]
		switch m.kind {
		case msgResponse:
			c.resolve(m, data)
		case msgShutdown:
			if shutdown == nil {
				shutdown = append([]byte{}, m.d...)
				if len(shutdown) == 0 {
					shutdown = []byte("{}")
				}
			}
		case msgEvent:
			c.log.Debug().Bytes("event", m.event).Msg("ignoring event")
		}
	}
	if len(c.batch.Quotes) > 0 || len(c.batch.DOMs) > 0 {
		c.batch.ConnID = c.id
		c.batch.RecvTime = recv.UnixNano()
		if c.batch.RecvTime != c.lastDataNS {
			c.lastData.Store(c.batch.RecvTime)
			c.lastDataNS = c.batch.RecvTime
		}
		c.s.deliver(c, &c.batch)
	}
	if shutdown != nil {
		return c.s.shutdown(c, shutdown, recv)
	}
	return nil
}

// resolve hands a response to its waiting request.
func (c *conn) resolve(m *message, frame []byte) {
	cl := c.pend.take(m.id)
	if cl == nil {
		c.s.anomaly(c, fmt.Errorf("response to unknown request id %d (status %d)", m.id, m.status), frame)
		return
	}
	cl.status = m.status
	cl.d = append([]byte(nil), m.d...)
	if cl.onOK != nil && c.s.judge(cl.endpoint, cl.status, cl.d) == nil {
		cl.onOK()
	}
	close(cl.done)
}

// writeLoop is the connection's only writer: heartbeats on a monotonic
// ticker whatever the server does, WebSocket pings, pongs, requests and
// the close frame.
func (c *conn) writeLoop() error {
	cfg := &c.s.cfg
	hb := time.NewTicker(cfg.Heartbeat)
	defer hb.Stop()
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	write := func(mt int, data []byte) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.StaleAfter))
		if err := c.ws.WriteMessage(mt, data); err != nil {
			c.fail(c.classify(err))
			return false
		}
		return true
	}
	for {
		select {
		case <-c.ctx.Done():
			return nil
		case <-hb.C:
			if !write(websocket.TextMessage, heartbeatFrame) {
				return nil
			}
			c.s.flushAnomalies(c, false)
		case <-ping.C:
			if !write(websocket.PingMessage, nil) {
				return nil
			}
		case m := <-c.ctrl:
			switch m.kind {
			case ctrlPong:
				if !write(websocket.PongMessage, []byte(m.data)) {
					return nil
				}
			case ctrlClose:
				write(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				t := time.NewTimer(closeWait)
				select {
				case <-c.ctx.Done(): // the reader saw the server's close reply
				case <-t.C:
				}
				t.Stop()
				c.fail(errLocalClose)
				return nil
			}
		case f := <-c.sendq:
			if !write(websocket.TextMessage, f) {
				return nil
			}
		}
	}
}

// closePolitely sends a close frame through the writer and waits for the
// connection to end. It is not a drop.
func (c *conn) closePolitely() {
	c.closing.Store(true)
	select {
	case c.ctrl <- ctrlMsg{kind: ctrlClose}:
	case <-c.done:
		return
	}
	t := time.NewTimer(2 * closeWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.fail(errLocalClose)
		<-c.done
	}
}
