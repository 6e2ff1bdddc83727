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
}

type rotSym struct {
	sym        *symbol
	subscribed bool
	switched   bool
	seen       map[uint64]struct{}
	order      []uint64
	heldQ      []heldQuote
	heldD      []heldDOM
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
		r.syms[id] = &rotSym{sym: sym, seen: map[uint64]struct{}{}}
	}
	r.left = len(r.syms)
	if r.left == 0 {
		close(r.allSwitched)
	}
	return r
}

func (st *rotSym) remember(k uint64) {
	if _, ok := st.seen[k]; ok {
		return
	}
	if len(st.order) >= ringSize {
		delete(st.seen, st.order[0])
		st.order = st.order[1:]
	}
	st.seen[k] = struct{}{}
	st.order = append(st.order, k)
}

func (st *rotSym) has(k uint64) bool { _, ok := st.seen[k]; return ok }

// overlaps reports whether the streams are seen to overlap: the new
// connection delivered k, or the oldest update held from it, and the old
// connection already passed it on.
func (st *rotSym) overlaps(k uint64) bool {
	if st.has(k) {
		return true
	}
	if len(st.heldQ) > 0 && st.has(st.heldQ[0].key) {
		return true
	}
	return len(st.heldD) > 0 && st.has(st.heldD[0].key)
}

// subscribedNew marks sym subscribed on the new connection (under emitMu).
func (r *rotation) subscribedNew(sym *symbol) {
	if st := r.syms[sym.contractID]; st != nil {
		st.subscribed = true
	}
}

// filter passes on what must be passed from a batch of the old or the new
// connection (under emitMu).
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
			if fromOld {
				out.Quotes = append(out.Quotes, *q)
			}
		case fromOld:
			if !st.switched {
				out.Quotes = append(out.Quotes, *q)
				st.remember(r.s.quoteKey(q))
			}
		case !st.subscribed:
		default:
			k := r.s.quoteKey(q)
			if !st.switched {
				if !st.overlaps(k) && len(st.heldQ)+len(st.heldD) < maxHeld {
					st.heldQ = append(st.heldQ, heldQuote{recv: b.RecvTime, key: k, q: *q})
					continue
				}
				r.switchSym(st)
			}
			if !st.has(k) {
				out.Quotes = append(out.Quotes, *q)
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
			if fromOld {
				out.DOMs = append(out.DOMs, *d)
			}
		case fromOld:
			if !st.switched {
				out.DOMs = append(out.DOMs, *d)
				st.remember(r.s.domKey(d))
			}
		case !st.subscribed:
		default:
			k := r.s.domKey(d)
			if !st.switched {
				if !st.overlaps(k) && len(st.heldQ)+len(st.heldD) < maxHeld {
					st.heldD = append(st.heldD, heldDOM{recv: b.RecvTime, key: k, d: copyDOM(d)})
					continue
				}
				r.switchSym(st)
			}
			if !st.has(k) {
				out.DOMs = append(out.DOMs, *d)
			} else {
				r.s.discarded++
			}
		}
	}
	if len(out.Quotes) > 0 || len(out.DOMs) > 0 {
		r.s.h.HandleBatch(out)
	}
}

// switchSym moves st to the new connection: EventRotated, then the held
// updates the old connection did not pass on (under emitMu).
func (r *rotation) switchSym(st *rotSym) { r.switchSymAnnounce(st, true) }

func (r *rotation) switchSymAnnounce(st *rotSym, announce bool) {
	if st.switched {
		return
	}
	st.switched = true
	if announce {
		r.s.emitLocked(Event{Kind: EventRotated, Time: time.Now(), ConnID: r.next.id, PrevConnID: r.old.id,
			Symbol: st.sym.name, ContractID: st.sym.contractID, Detail: map[string]any{"tables": r.s.tables()}})
	}
	var fb Batch
	fb.ConnID = r.next.id
	flush := func() {
		if len(fb.Quotes) > 0 || len(fb.DOMs) > 0 {
			r.s.h.HandleBatch(&fb)
		}
		fb.Quotes, fb.DOMs = fb.Quotes[:0], fb.DOMs[:0]
	}
	for _, h := range st.heldQ {
		if st.has(h.key) {
			continue
		}
		if h.recv != fb.RecvTime {
			flush()
			fb.RecvTime = h.recv
		}
		fb.Quotes = append(fb.Quotes, h.q)
	}
	flush()
	for _, h := range st.heldD {
		if st.has(h.key) {
			continue
		}
		if h.recv != fb.RecvTime {
			flush()
			fb.RecvTime = h.recv
		}
		fb.DOMs = append(fb.DOMs, h.d)
	}
	flush()
	st.heldQ, st.heldD = nil, nil
	r.left--
	if r.left == 0 {
		close(r.allSwitched)
	}
}

// switchAll switches every remaining symbol (grace period over).
func (r *rotation) switchAll() {
	for _, st := range r.syms {
		r.switchSym(st)
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
	s.primary = next
	s.rot = nil
	s.emitMu.Unlock()
	s.closeOld(old)
	return next, nil
}

// promote makes r.next the current connection after the old one died.
func (s *Session) promote(r *rotation) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.primary = r.next
	for _, st := range r.syms {
		s.emitLocked(Event{Kind: EventSubscribed, Time: time.Now(), ConnID: r.next.id, Symbol: st.sym.name,
			ContractID: st.sym.contractID, Detail: map[string]any{"tables": s.tables()}})
		r.switchSymAnnounce(st, false) // flush what the new connection held back
	}
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
