package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Blast configures blast mode: instead of streaming at a rate, the server
// pre-generates realistic frames and sends them as fast as the client
// reads, Updates in all, to the first connection that has subscribed to
// the quotes and the DOM of every contract. Then it sends
// c[1000,"Blast complete"] and a WebSocket close (1000), waits for the
// client to close its end, and reports. Later connections get no data.
// The ground truth is not written for a blast. While it runs, the timed
// rules the writer enforces (connection age, token expiry) wait; pongs and
// responses are sent between chunks; a fault that queues a raw frame or a
// close ends the blast early (reported as not Complete).
type Blast struct {
	// Updates to send in all (0: blast mode off). Rounded up to whole frames.
	Updates int64
	// UpdatesPerFrame in each a[...] frame (default 1). A frame holds quotes
	// only or DOMs only, as the real server batches them.
	UpdatesPerFrame int
	// DOMShare is the fraction of frames that carry DOMs (default 0.2; a
	// negative value means none).
	DOMShare float64
	// Frames is the number of distinct frames pre-generated (default 65536).
	// The pool is sent again and again; each pass shifts its server
	// timestamps past the previous pass, so they keep increasing.
	Frames int
	// OnDone, if set, receives the report once the blast has ended.
	OnDone func(BlastReport)
}

// BlastReport describes a finished blast.
type BlastReport struct {
	Start   time.Time // first frame written
	Written time.Time // last frame written to the socket
	End     time.Time // the client closed its end after the last frame, or the blast was cut
	Updates int64     // md updates sent
	Quotes  int64
	DOMs    int64
	Frames  int64 // a[...] data frames sent
	Bytes   int64 // WebSocket bytes of those frames (headers included)
	// Complete is false when the blast was cut short (the client left,
	// a fault or a write error); Cause then says why.
	Complete bool
	Cause    string
}

// EndBlastDone is the end cause of the connection a blast was sent on.
const EndBlastDone = "blast_done"

// blastChunk is how many bytes of frames go to the socket per write.
const blastChunk = 256 << 10

// blastFrame is one pre-generated WebSocket text frame.
type blastFrame struct {
	wire   []byte  // header + payload
	ts     []int32 // offsets in wire of each 24-byte server timestamp
	ms     []int64 // their values, Unix ms
	quotes int32
	doms   int32
}

// blastPool is the pre-generated stream of a blast.
type blastPool struct {
	frames []blastFrame
	span   int64 // ms: each pass of the pool shifts timestamps by this
}

// normalizeBlast fills the defaults of b and checks it.
func normalizeBlast(b *Blast) error {
	if b.Updates < 0 {
		return fmt.Errorf("check blast: negative update count %d", b.Updates)
	}
	if b.UpdatesPerFrame == 0 {
		b.UpdatesPerFrame = 1
	}
	if b.UpdatesPerFrame < 0 || b.UpdatesPerFrame > 1000 {
		return fmt.Errorf("check blast: updates per frame %d: want 1 to 1000", b.UpdatesPerFrame)
	}
	if b.DOMShare == 0 {
		b.DOMShare = 0.2
	}
	if b.DOMShare < 0 {
		b.DOMShare = 0
	}
	if math.IsNaN(b.DOMShare) || b.DOMShare > 1 {
		return errors.New("check blast: DOM share must be between 0 and 1")
	}
	if b.Frames == 0 {
		b.Frames = 65536
	}
	if b.Frames < 1 || b.Frames > 1<<22 {
		return fmt.Errorf("check blast: %d frames: want 1 to %d", b.Frames, 1<<22)
	}
	return nil
}

// GeneratedContracts returns n contracts named SY0001, SY0002, … with
// distinct ids and prices, for blasts over many symbols.
func GeneratedContracts(n int) []Contract {
	out := make([]Contract, n)
	for i := range out {
		out[i] = Contract{
			ID: 5_000_001 + int64(i), Name: fmt.Sprintf("SY%04d", i+1),
			TickSize: 0.25, Price: 1000 + float64(i%97)*25.5, ValuePerPoint: 50,
		}
	}
	return out
}

// newBlastPool pre-generates the frames of a blast from the contracts'
// random walks, starting at now.
func newBlastPool(b Blast, ks []*contract, domLevels int, seed int64, now time.Time) *blastPool {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xb1a57))
	p := &blastPool{frames: make([]blastFrame, b.Frames)}
	minMS, maxMS := int64(math.MaxInt64), int64(math.MinInt64)
	us := make([]*update, 0, b.UpdatesPerFrame)
	var payload []byte
	for i := range p.frames {
		dom := rng.Float64() < b.DOMShare
		us = us[:0]
		for j := 0; j < b.UpdatesPerFrame; j++ {
			k := ks[rng.IntN(len(ks))]
			// One update per millisecond of a contract's clock on average.
			q, d := k.step(now.Add(time.Duration(k.steps)*time.Millisecond), domLevels)
			u := q
			if dom {
				u = d
			}
			u.json = appendUpdate(nil, u)
			us = append(us, u)
		}
		key, kind := "quotes", kindQuote
		if dom {
			key, kind = "doms", kindDOM
		}
		payload = appendMDEvent(payload[:0], key, kind, us)
		f := &p.frames[i]
		f.wire = appendWSHeader(make([]byte, 0, len(payload)+10), 0x81, len(payload))
		hdr := len(f.wire)
		f.wire = append(f.wire, payload...)
		// Locate each update's timestamp: the updates appear in order.
		at := hdr
		for _, u := range us {
			var stamp [24]byte
			s := appendTS(stamp[:0], u.ms)
			off := indexFrom(f.wire, s, at)
			if off < 0 { // cannot happen: the frame was built from these updates
				continue
			}
			f.ts = append(f.ts, int32(off))
			f.ms = append(f.ms, u.ms)
			at = off + len(s)
			minMS, maxMS = min(minMS, u.ms), max(maxMS, u.ms)
		}
		if dom {
			f.doms = int32(len(us))
		} else {
			f.quotes = int32(len(us))
		}
	}
	p.span = maxMS - minMS + 1
	return p
}

// indexFrom returns the index of sub in b at or after from, or -1.
func indexFrom(b, sub []byte, from int) int {
	for i := from; i+len(sub) <= len(b); i++ {
		if b[i] == sub[0] && string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// appendWSHeader appends an unmasked server frame header (RFC 6455 §5.2).
func appendWSHeader(b []byte, first byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, first, byte(n))
	case n <= math.MaxUint16:
		b = append(b, first, 126)
		return binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, first, 127)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}

// tsFormatter formats server timestamps fast, caching the part up to the
// second.
type tsFormatter struct {
	sec    int64
	prefix []byte // "2006-01-02T15:04:05."
}

// put writes the 24-byte timestamp of ms into dst.
func (f *tsFormatter) put(dst []byte, ms int64) {
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	if f.prefix == nil || sec != f.sec {
		f.sec = sec
		f.prefix = time.Unix(sec, 0).UTC().AppendFormat(f.prefix[:0], "2006-01-02T15:04:05.")
	}
	n := copy(dst, f.prefix)
	dst[n] = byte('0' + frac/100)
	dst[n+1] = byte('0' + frac/10%10)
	dst[n+2] = byte('0' + frac%10)
	dst[n+3] = 'Z'
}

// blast sends the pool to the connection until Updates were sent, then
// ends the connection politely. It returns false once the connection has
// ended; true if control items (a fault) interrupted it and the normal
// writer loop must go on.
func (w *writer) blast() bool {
	c := w.c
	s := c.s
	b := s.cfg.Blast
	pool := s.blast
	nc := c.ws.NetConn()
	rep := BlastReport{Start: time.Now()}
	s.log.Info().Int64("conn", c.id).Int64("updates", b.Updates).Int("per_frame", b.UpdatesPerFrame).Msg("blast started")
	var (
		tsf      tsFormatter
		out      = make([]byte, 0, blastChunk+64<<10)
		next     int
		shift    int64
		reported int64 // updates already added to s.sent
	)
	finish := func(cause string) {
		rep.End = time.Now()
		rep.Cause = cause
		s.log.Info().Int64("updates", rep.Updates).Int64("frames", rep.Frames).Bool("complete", rep.Complete).
			Str("cause", cause).Dur("took", rep.End.Sub(rep.Start)).Msg("blast ended")
		if b.OnDone != nil {
			b.OnDone(rep)
		}
	}
	for rep.Updates < b.Updates {
		out = out[:0]
		for len(out) < blastChunk && rep.Updates < b.Updates {
			f := &pool.frames[next]
			start := len(out)
			out = append(out, f.wire...)
			if shift != 0 {
				for i, off := range f.ts {
					tsf.put(out[start+int(off):], f.ms[i]+shift)
				}
			}
			rep.Quotes += int64(f.quotes)
			rep.DOMs += int64(f.doms)
			rep.Updates += int64(f.quotes + f.doms)
			rep.Frames++
			if next++; next == len(pool.frames) {
				next = 0
				shift += pool.span
			}
		}
		rep.Bytes += int64(len(out))
		var stop bool
		out, stop = w.blastCtrl(out)
		if err := writeFull(nc, out, c.s.cfg.Rules.ClientTimeout); err != nil {
			c.end(EndWriteError)
			finish(EndWriteError)
			return false
		}
		s.sent.Add(rep.Updates - reported)
		reported = rep.Updates
		if stop {
			finish("interrupted")
			return true
		}
	}
	rep.Written = time.Now()
	rep.Complete = true
	c.claim(EndBlastDone)
	c.closeFrame(1000, "Blast complete")
	select { // the client closes its end once it has read everything
	case <-c.done:
	case <-s.ctx.Done():
	}
	c.end(EndBlastDone)
	finish(EndBlastDone)
	return false
}

// blastCtrl adds pending pongs and responses to out. It reports stop when
// something else (a raw frame, a close) is queued: those go back to the
// queue for the normal writer loop.
func (w *writer) blastCtrl(out []byte) ([]byte, bool) {
	c := w.c
	c.mu.Lock()
	ctrl := c.ctrl
	c.ctrl = nil
	c.mu.Unlock()
	if len(ctrl) == 0 {
		return out, false
	}
	for i, it := range ctrl {
		switch {
		case it.pong != nil:
			out = appendWSHeader(out, 0x8A, len(it.pong))
			out = append(out, it.pong...)
		case it.msg != nil:
			out = appendWSHeader(out, 0x81, len(it.msg)+3)
			out = append(out, "a["...)
			out = append(out, it.msg...)
			out = append(out, ']')
		default:
			c.mu.Lock()
			c.ctrl = append(append([]outItem(nil), ctrl[i:]...), c.ctrl...)
			c.mu.Unlock()
			return out, true
		}
	}
	return out, false
}

// writeFull writes b to the socket with a deadline of timeout (none if 0).
func writeFull(nc interface {
	Write([]byte) (int, error)
	SetWriteDeadline(time.Time) error
}, b []byte, timeout time.Duration) error {
	if timeout > 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(timeout))
	}
	_, err := nc.Write(b) // net.Conn writes everything or fails
	if err != nil {
		return fmt.Errorf("write blast: %w", err)
	}
	return nil
}
