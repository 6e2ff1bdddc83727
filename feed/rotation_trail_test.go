package feed

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// quoteRecorder keeps the Bid (a sequence number here) of every quote
// passed on, with its connection.
type quoteRecorder struct {
	seqs  []float64
	conns []int64
}

func (h *quoteRecorder) HandleBatch(b *Batch) {
	for _, q := range b.Quotes {
		h.seqs = append(h.seqs, q.Bid)
		h.conns = append(h.conns, b.ConnID)
	}
}
func (h *quoteRecorder) HandleEvent(Event) {}

// TestRotationTrailsALaggingNewConnection: the new connection lags the
// old one at the switch; the updates the old one already passed on,
// which the new one delivers after the rotation is over, are not passed
// on again, and the first new update ends the trailing.
func TestRotationTrailsALaggingNewConnection(t *testing.T) {
	h := &quoteRecorder{}
	s, err := NewSession(Config{MDURL: "ws://127.0.0.1:1", AccessToken: "t", Symbols: []string{"ESZ6"}, RotateGrace: time.Minute, Logger: zerolog.Nop()}, h)
	if err != nil {
		t.Fatal(err)
	}
	sym := s.syms[0]
	sym.contractID = 7
	s.byContract[7] = sym
	old := &conn{s: s, id: 1, subCount: map[string]bool{}}
	next := &conn{s: s, id: 2, subCount: map[string]bool{}}
	s.primary = old
	ts := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixNano()
	send := func(c *conn, seq int) {
		c.batch.Quotes = append(c.batch.Quotes[:0], Quote{ContractID: 7, Timestamp: ts + int64(seq), Has: HasBid, Bid: float64(seq)})
		c.batch.ConnID, c.batch.RecvTime = c.id, time.Now().UnixNano()
		s.deliver(c, &c.batch)
	}
	send(old, 1)
	r := newRotation(s, old)
	s.rot = r
	r.next = next
	r.subscribedNew(sym)
	send(old, 2)
	send(old, 3)
	send(old, 4)
	send(next, 2) // overlap: quotes switch to the new connection, 2 is a duplicate
	select {
	case <-r.allSwitched:
	default:
		t.Fatal("not switched")
	}
	s.emitMu.Lock()
	r.finish() // as rotate does once every symbol switched
	s.emitMu.Unlock()
	if s.rot != r || s.primary != next {
		t.Fatalf("after finish: rot %p primary %d", s.rot, s.primary.id)
	}
	send(next, 3) // already passed by the old connection
	send(old, 5)  // the old connection is no longer passed on
	send(next, 4)
	send(next, 5)
	send(next, 6)
	want := []float64{1, 2, 3, 4, 5, 6}
	if len(h.seqs) != len(want) {
		t.Fatalf("passed on %v from %v, want %v", h.seqs, h.conns, want)
	}
	for i := range want {
		if h.seqs[i] != want[i] {
			t.Fatalf("passed on %v from %v, want %v", h.seqs, h.conns, want)
		}
	}
	if s.rot != nil {
		t.Fatal("still trailing after the new connection caught up")
	}
	if st := s.Stats(); st.Discarded != 4 {
		t.Fatalf("discarded %d, want 4 (next's 2, 3 and 4, old's 5)", st.Discarded)
	}
}

// TestRotationTrailingEndsAfterGrace: a table that never delivers on the
// new connection does not keep it filtered past RotateGrace.
func TestRotationTrailingEndsAfterGrace(t *testing.T) {
	h := &quoteRecorder{}
	s, err := NewSession(Config{MDURL: "ws://127.0.0.1:1", AccessToken: "t", Symbols: []string{"ESZ6", "NQZ6"}, RotateGrace: time.Millisecond, Logger: zerolog.Nop()}, h)
	if err != nil {
		t.Fatal(err)
	}
	for i, sym := range s.syms {
		sym.contractID = int64(7 + i)
		s.byContract[sym.contractID] = sym
	}
	old := &conn{s: s, id: 1, subCount: map[string]bool{}}
	next := &conn{s: s, id: 2, subCount: map[string]bool{}}
	r := newRotation(s, old)
	s.rot = r
	r.next = next
	s.emitMu.Lock()
	r.switchAll()
	r.finish()
	s.emitMu.Unlock()
	b := &Batch{ConnID: 2, RecvTime: time.Now().Add(time.Second).UnixNano(), Quotes: []Quote{{ContractID: 7, Bid: 1, Has: HasBid}}}
	s.deliver(next, b)
	if s.rot != nil || len(h.seqs) != 1 {
		t.Fatalf("rot %v, passed %v", s.rot != nil, h.seqs)
	}
}
