package feed

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// Make-before-break rotation: before MaxConnAge, the next connection is
// opened with the same token and subscribed while the old one keeps
// streaming. Each symbol switches to the new connection once the two
// streams are seen to overlap (the new one delivers an update the old one
// already passed on); until then the new connection's updates are held
// back. Updates passed on from the old connection are remembered by a
// hash of (contract, server timestamp, content), so an update that
// arrives on both is passed on once. Then the old connection is closed
// politely. No gap, no duplicate.

// ringSize bounds the remembered update keys per symbol, and maxHeld the
// updates held back from the new connection before a forced switch.
const (
	ringSize = 4096
	maxHeld  = 4096
)

type rotation struct {
	s           *Session
	old, next   *conn
	syms        map[int64]*rotSym
	left        int
	allSwitched chan struct{}
	out         Batch
	// trailing: the rotation is over (next is the current connection),
	// but the new connection may still deliver updates the old one
	// already passed on, when it lagged behind it at the switch. Its
	// batches keep going through filter until every table caught up.
	trailing bool
	trailEnd int64 // Unix ns: trailing ends here at the latest (RotateGrace after the switch)
	caught   int   // tables caught up (see rotTable.caught)
}

// rotSym is one symbol during a rotation. Its quotes and its DOM switch
// separately: each subscription starts on the new connection at its own
// moment, so overlap has to be seen for each.
type rotSym struct {
	sym        *symbol
	subscribed bool
	announced  bool // EventRotated sent: every table switched
	q, d       rotTable
	heldQ      []heldQuote
	heldD      []heldDOM
}

// rotTable is the switch state of one table of a symbol: whether it
// switched, and the keys of the updates the old connection passed on.
type rotTable struct {
	switched bool
	// caught: since the switch, the new connection delivered an update
	// the old one did not pass on; updates arrive in order, so none of
	// its later updates can be one the old connection passed on.
	caught bool
	seen   map[uint64]struct{}
	order  []uint64
}

type heldQuote struct {
	recv int64
	key  uint64
	q    Quote
}

type heldDOM struct {
	recv int64
	key  uint64
	d    DOM
}

func newRotation(s *Session, old *conn) *rotation {
	r := &rotation{s: s, old: old, syms: map[int64]*rotSym{}, allSwitched: make(chan struct{})}
	for id, sym := range s.byContract {
		st := &rotSym{sym: sym, q: rotTable{seen: map[uint64]struct{}{}}, d: rotTable{seen: map[uint64]struct{}{}}}
		st.d.switched = !s.cfg.DOM // nothing to switch
		r.syms[id] = st
	}
	r.left = len(r.syms)
	if r.left == 0 {
		close(r.allSwitched)
	}
	return r
}

func (t *rotTable) remember(k uint64) {
	if _, ok := t.seen[k]; ok {
		return
	}
	if len(t.order) >= ringSize {
		delete(t.seen, t.order[0])
		t.order = t.order[1:]
	}
	t.seen[k] = struct{}{}
	t.order = append(t.order, k)
}

func (t *rotTable) has(k uint64) bool { _, ok := t.seen[k]; return ok }

// subscribedNew marks sym subscribed on the new connection (under emitMu).
func (r *rotation) subscribedNew(sym *symbol) {
	if st := r.syms[sym.contractID]; st != nil {
		st.subscribed = true
	}
}

// filter passes on what must be passed from a batch of the old or the new
// connection (under emitMu). From the old connection: every update of a
// table not yet switched (remembered). From the new one: once switched,
// every update the old one did not already pass on; before, updates are
// held back until the streams are seen to overlap — the new connection
// delivers an update the old one passed on, or the old one passes on the
// oldest held update — which switches the table.
func (r *rotation) filter(c *conn, b *Batch) {
	out := &r.out
	out.Quotes, out.DOMs = out.Quotes[:0], out.DOMs[:0]
	out.ConnID, out.RecvTime = b.ConnID, b.RecvTime
	fromOld := c == r.old
	for i := range b.Quotes {
		q := &b.Quotes[i]
		st := r.syms[q.ContractID]
		switch {
		case st == nil:
			if fromOld || r.trailing {
				out.Quotes = append(out.Quotes, *q)
			}
		case fromOld:
			if !st.q.switched {
				out.Quotes = append(out.Quotes, *q)
				st.q.remember(r.s.quoteKey(q))
			}
		case !st.subscribed:
		case st.q.caught: // switched and caught up: nothing left to compare
			out.Quotes = append(out.Quotes, *q)
		default:
			k := r.s.quoteKey(q)
			if !st.q.switched {
				overlap := st.q.has(k) || (len(st.heldQ) > 0 && st.q.has(st.heldQ[0].key))
				if !overlap && len(st.heldQ) < maxHeld {
					st.heldQ = append(st.heldQ, heldQuote{recv: b.RecvTime, key: k, q: *q})
					continue
				}
				r.switchQuotes(st)
			}
			if !st.q.has(k) {
				out.Quotes = append(out.Quotes, *q)
				r.catch(&st.q)
			} else {
				r.s.discarded++
			}
		}
	}
	for i := range b.DOMs {
		d := &b.DOMs[i]
		st := r.syms[d.ContractID]
		switch {
		case st == nil:
			if fromOld || r.trailing {
				out.DOMs = append(out.DOMs, *d)
			}
		case fromOld:
			if !st.d.switched {
				out.DOMs = append(out.DOMs, *d)
				st.d.remember(r.s.domKey(d))
			}
		case !st.subscribed:
		case st.d.caught:
			out.DOMs = append(out.DOMs, *d)
		default:
			k := r.s.domKey(d)
			if !st.d.switched {
				overlap := st.d.has(k) || (len(st.heldD) > 0 && st.d.has(st.heldD[0].key))
				if !overlap && len(st.heldD) < maxHeld {
					st.heldD = append(st.heldD, heldDOM{recv: b.RecvTime, key: k, d: copyDOM(d)})
					continue
				}
				r.switchDOM(st)
			}
			if !st.d.has(k) {
				out.DOMs = append(out.DOMs, *d)
				r.catch(&st.d)
			} else {
				r.s.discarded++
			}
		}
	}
	if len(out.Quotes) > 0 || len(out.DOMs) > 0 {
		r.s.h.HandleBatch(out)
	}
}

// switchQuotes moves st's quotes to the new connection, passing on the
// held quotes the old connection did not (under emitMu).
func (r *rotation) switchQuotes(st *rotSym) {
	if st.q.switched {
		return
	}
	st.q.switched = true
	var fb Batch
	fb.ConnID = r.next.id
	for _, h := range st.heldQ {
		if st.q.has(h.key) {
			continue
		}
		if h.recv != fb.RecvTime && len(fb.Quotes) > 0 {
			r.s.h.HandleBatch(&fb)
			fb.Quotes = fb.Quotes[:0]
		}
		fb.RecvTime = h.recv
		fb.Quotes = append(fb.Quotes, h.q)
		r.catch(&st.q)
	}
	if len(fb.Quotes) > 0 {
		r.s.h.HandleBatch(&fb)
	}
	st.heldQ = nil
	r.switched(st, true)
}

// switchDOM is switchQuotes for the DOM table.
func (r *rotation) switchDOM(st *rotSym) {
	if st.d.switched {
		return
	}
	st.d.switched = true
	var fb Batch
	fb.ConnID = r.next.id
	for _, h := range st.heldD {
		if st.d.has(h.key) {
			continue
		}
		if h.recv != fb.RecvTime && len(fb.DOMs) > 0 {
			r.s.h.HandleBatch(&fb)
			fb.DOMs = fb.DOMs[:0]
		}
		fb.RecvTime = h.recv
		fb.DOMs = append(fb.DOMs, h.d)
		r.catch(&st.d)
	}
	if len(fb.DOMs) > 0 {
		r.s.h.HandleBatch(&fb)
	}
	st.heldD = nil
	r.switched(st, true)
}

// catch marks table t caught up (see rotTable.caught).
func (r *rotation) catch(t *rotTable) {
	if !t.caught {
		t.caught = true
		r.caught++
	}
}

// caughtUp reports whether every table of every symbol caught up: the
// new connection can no longer deliver an update the old one passed on.
// A table that is not captured counts as caught up.
func (r *rotation) caughtUp() bool {
	want := len(r.syms)
	if r.s.cfg.DOM {
		want *= 2
	}
	return r.caught >= want
}

// finish makes next the current connection. The rotation keeps
// filtering next's batches (trailing) until every table caught up, or for
// RotateGrace at most (under emitMu): without it, an update the old
// connection passed on just before the switch, which the lagging new one
// delivers just after, would be stored twice.
func (r *rotation) finish() {
	r.s.primary = r.next
	r.trailing = true
	for _, st := range r.syms {
		st.subscribed = true // whatever next delivers from now on is passed on, less what the old one passed
	}
	r.trailEnd = time.Now().Add(r.s.cfg.RotateGrace).UnixNano()
	r.s.rot = r
	if r.caughtUp() {
		r.s.rot = nil
	}
}

// switched announces st (EventRotated) once all its tables switched.
func (r *rotation) switched(st *rotSym, announce bool) {
	if st.announced || !st.q.switched || !st.d.switched {
		return
	}
	st.announced = true
	if announce {
		r.s.emitLocked(Event{Kind: EventRotated, Time: time.Now(), ConnID: r.next.id, PrevConnID: r.old.id,
			Symbol: st.sym.name, ContractID: st.sym.contractID, Detail: map[string]any{"tables": r.s.tables()}})
	}
	r.left--
	if r.left == 0 {
		close(r.allSwitched)
	}
}

// switchAll switches every remaining table (grace period over).
func (r *rotation) switchAll() {
	for _, st := range r.syms {
		r.switchQuotes(st)
		r.switchDOM(st)
	}
}

func copyDOM(d *DOM) DOM {
	c := *d
	c.Bids = append([]Level(nil), d.Bids...)
	c.Offers = append([]Level(nil), d.Offers...)
	return c
}

// quoteKey hashes a quote's contract, server timestamp and content.
func (s *Session) quoteKey(q *Quote) uint64 {
	var b [8 * 15]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(q.ContractID))
	binary.LittleEndian.PutUint64(b[8:], uint64(q.Timestamp))
	binary.LittleEndian.PutUint64(b[16:], uint64(q.Has)|1<<62)
	for i, f := range [...]float64{q.Bid, q.BidSize, q.Ask, q.AskSize, q.Trade, q.TradeSize, q.TotalVol, q.OpenInt, q.Open, q.High, q.Low, q.Settlement} {
		binary.LittleEndian.PutUint64(b[24+8*i:], math.Float64bits(f))
	}
	return maphash.Bytes(s.seed, b[:])
}

// domKey hashes a DOM's contract, server timestamp and levels.
func (s *Session) domKey(d *DOM) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var b [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		_, _ = h.Write(b[:])
	}
	put(uint64(d.ContractID))
	put(uint64(d.Timestamp))
	put(2 << 60)
	for _, side := range [2][]Level{d.Bids, d.Offers} {
		put(uint64(len(side)))
		for _, l := range side {
			put(math.Float64bits(l.Price))
			put(math.Float64bits(l.Size))
			var f uint64
			if l.HasPrice {
				f |= 1
			}
			if l.HasSize {
				f |= 2
			}
			put(f)
		}
	}
	return h.Sum64()
}

// rotate opens the next connection, switches every symbol to it and
// closes the old one politely. On failure the old connection stays.
func (s *Session) rotate(ctx context.Context, old *conn) (*conn, error) {
	s.log.Info().Int64("conn", old.id).Dur("age", time.Since(old.connected)).Msg("rotating connection (make-before-break)")
	s.emitMu.Lock()
	r := newRotation(s, old)
	s.rot = r
	s.emitMu.Unlock()
	abort := func() {
		s.emitMu.Lock()
		if s.rot == r {
			s.rot = nil
		}
		s.emitMu.Unlock()
	}
	next, err := s.open(ctx, true)
	if err != nil {
		abort()
		return nil, err
	}
	t := time.NewTimer(s.cfg.RotateGrace)
	defer t.Stop()
	select {
	case <-r.allSwitched:
	case <-t.C:
		s.log.Info().Msg("rotation grace period over: switching the remaining symbols")
		s.emitMu.Lock()
		r.switchAll()
		s.emitMu.Unlock()
	case <-old.done:
		// The old connection died mid-rotation: report the drop, then
		// announce every symbol on the new connection as a resubscription.
		s.emitMu.Lock()
		s.rot = nil
		s.emitMu.Unlock()
		s.down(old)
		s.promote(r)
		return next, nil
	case <-next.done:
		abort()
		s.emitEvent(Event{Kind: EventClosed, Time: time.Now(), ConnID: next.id, Reason: "rotation_failed",
			Detail: map[string]any{"error": next.cause().Error()}})
		return nil, next.cause()
	case <-ctx.Done():
		abort()
		s.stopConn(next, schema.ReasonUserStop)
		return nil, ctx.Err()
	}
	s.emitMu.Lock()
	r.finish()
	s.emitMu.Unlock()
	s.closeOld(old)
	return next, nil
}

// promote makes r.next the current connection after the old one died:
// every symbol is announced anew (EventSubscribed) and what the new
// connection held back is passed on.
func (s *Session) promote(r *rotation) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	for _, st := range r.syms {
		if !st.announced {
			s.emitLocked(Event{Kind: EventSubscribed, Time: time.Now(), ConnID: r.next.id, Symbol: st.sym.name,
				ContractID: st.sym.contractID, Detail: map[string]any{"tables": s.tables()}})
			st.announced = true // no EventRotated: the drop was reported
		}
		r.switchQuotes(st)
		r.switchDOM(st)
	}
	r.finish()
}

// closeOld closes the old connection of a finished rotation: unsubscribe,
// close frame, EventClosed. Its end is not a drop: every symbol already
// streams from the new connection.
func (s *Session) closeOld(old *conn) {
	select {
	case <-old.done:
		s.emitEvent(Event{Kind: EventClosed, Time: time.Now(), ConnID: old.id, Reason: "rotation",
			Detail: map[string]any{"error": old.cause().Error()}})
		return
	default:
	}
	s.stopConn(old, "rotation")
}
