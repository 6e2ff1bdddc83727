package sim

import (
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// writer is the state of a connection's writer goroutine.
type writer struct {
	c        *conn
	lastSend time.Time // when the last frame went out (for h)
	frame    []byte    // the frame being built
	mds      []*update // md updates taken for the current frame
	order    []*update // the same in frame order (quotes, then DOMs)
}

// writeLoop writes frames and heartbeats and enforces the timed rules
// until the connection ends; then it records the end in the ground truth.
func (c *conn) writeLoop() {
	w := &writer{c: c, lastSend: time.Now()}
	timer := time.NewTimer(c.s.cfg.Rules.Heartbeat)
	defer timer.Stop()
	if c.write([]byte("o")) == nil {
		w.lastSend = time.Now()
	}
	for w.step(timer) {
	}
	<-c.done
	c.s.gt.end(time.Now(), c.id, c.endCause())
}

// step does one round: wait out a stall, apply the timed rules, then
// write what is pending, or a heartbeat, or wait. It returns false once
// the connection has ended.
func (w *writer) step(timer *time.Timer) bool {
	c := w.c
	if !c.waitStall() {
		return false
	}
	now := time.Now()
	if cause := c.timedRules(now); cause != "" {
		c.end(cause)
		return false
	}
	c.mu.Lock()
	blast := c.blastReady && len(c.ctrl) == 0 && c.s.blastOnce.CompareAndSwap(false, true)
	c.mu.Unlock()
	if blast {
		return w.blast()
	}
	c.mu.Lock()
	ctrl := c.ctrl
	c.ctrl = nil
	n := min(len(c.md), c.s.cfg.UpdatesPerFrame)
	w.mds = append(w.mds[:0], c.md[:n]...)
	rest := copy(c.md, c.md[n:])
	clear(c.md[rest:]) // no stale pointers past the end
	c.md = c.md[:rest]
	more := len(c.md) > 0
	c.mu.Unlock()

	if len(ctrl) == 0 && len(w.mds) == 0 {
		return w.idle(now, timer)
	}
	w.frame = w.frame[:0]
	if !w.writeCtrl(ctrl) || !w.writeMD() {
		return false
	}
	if more {
		c.signal()
	}
	return true
}

// idle sends h when nothing went out for a heartbeat period, then waits
// for something to write, the next heartbeat or the next timed rule.
func (w *writer) idle(now time.Time, timer *time.Timer) bool {
	c := w.c
	hb := c.s.cfg.Rules.Heartbeat
	next := w.lastSend.Add(hb)
	if !now.Before(next) {
		if c.write([]byte("h")) != nil {
			return false
		}
		w.lastSend = time.Now()
		next = w.lastSend.Add(hb)
	}
	if d := c.nextRuleIn(now); d > 0 && d < next.Sub(now) {
		next = now.Add(d)
	}
	timer.Reset(max(time.Until(next), time.Millisecond))
	select {
	case <-c.done:
		return false
	case <-c.wake:
	case <-timer.C:
	}
	timer.Stop()
	return true
}

// writeCtrl writes responses and events in order; raw frames and closes
// split the batch. What is left in the batch is sent with the md data.
func (w *writer) writeCtrl(ctrl []outItem) bool {
	c := w.c
	for _, it := range ctrl {
		switch {
		case it.msg != nil:
			w.frame = appendBatch(w.frame, it.msg)
		case it.raw != nil:
			if c.flush(&w.frame) != nil || c.write(it.raw) != nil {
				return false
			}
		case it.pong != nil:
			if c.flush(&w.frame) != nil {
				return false
			}
			_ = c.ws.WriteControl(websocket.PongMessage, it.pong, time.Now().Add(time.Second))
		case it.close:
			c.claim(it.cause)
			if c.flush(&w.frame) == nil {
				c.closeFrame(it.code, it.text)
			}
			c.end(it.cause)
			return false
		}
	}
	return true
}

// writeMD adds the taken md updates to the batch as one quotes event and
// one doms event, writes the frame, and records the updates in the ground
// truth in the order they appear in the frame.
func (w *writer) writeMD() bool {
	c := w.c
	w.frame = appendMDEvent(w.frame, "quotes", kindQuote, w.mds)
	w.frame = appendMDEvent(w.frame, "doms", kindDOM, w.mds)
	if c.flush(&w.frame) != nil {
		return false
	}
	w.lastSend = time.Now()
	if len(w.mds) == 0 {
		return true
	}
	// Ground truth in frame order: quotes, then DOMs.
	w.order = w.order[:0]
	for _, k := range []updateKind{kindQuote, kindDOM} {
		for _, u := range w.mds {
			if u.kind == k {
				w.order = append(w.order, u)
			}
		}
	}
	c.s.sent.Add(int64(len(w.order)))
	c.s.gt.updates(w.lastSend, c.id, w.order)
	return true
}

// appendBatch adds msg to the a[...] frame being built.
func appendBatch(frame, msg []byte) []byte {
	frame = openMsg(frame)
	frame = append(frame, msg...)
	return append(frame, ']')
}

// openMsg prepares frame for one more message: "a[" for the first, else
// the closing ']' becomes ','. The caller appends the message and ']'.
func openMsg(frame []byte) []byte {
	if len(frame) == 0 {
		return append(frame, "a["...)
	}
	frame[len(frame)-1] = ','
	return frame
}

// appendMDEvent adds {"e":"md","d":{"<key>":[...]}} holding the updates of
// kind among us, if there are any.
func appendMDEvent(frame []byte, key string, kind updateKind, us []*update) []byte {
	first := true
	for _, u := range us {
		if u.kind != kind {
			continue
		}
		if first {
			frame = openMsg(frame)
			frame = append(frame, `{"e":"md","d":{"`...)
			frame = append(frame, key...)
			frame = append(frame, `":[`...)
			first = false
		} else {
			frame = append(frame, ',')
		}
		frame = append(frame, u.json...)
	}
	if !first {
		frame = append(frame, "]}}]"...)
	}
	return frame
}

// flush writes the a[...] frame being built, if any.
func (c *conn) flush(frame *[]byte) error {
	if len(*frame) == 0 {
		return nil
	}
	err := c.write(*frame)
	*frame = (*frame)[:0]
	return err
}

// write sends one text frame; a failure ends the connection.
func (c *conn) write(frame []byte) error {
	if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		c.end(EndWriteError)
		return err
	}
	return nil
}

// closeFrame sends c[code,"text"] and a WebSocket close with the same code.
func (c *conn) closeFrame(code int, text string) {
	b := append([]byte("c["), strconv.Itoa(code)...)
	b = append(b, ',')
	b = appendString(b, text)
	b = append(b, ']')
	if c.write(b) != nil {
		return
	}
	wsCode := code
	if wsCode < 1000 || wsCode > 4999 || wsCode == websocket.CloseNoStatusReceived || wsCode == websocket.CloseAbnormalClosure {
		wsCode = websocket.CloseNormalClosure
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(wsCode, text), time.Now().Add(time.Second))
}
