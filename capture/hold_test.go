package capture

import (
	"testing"
	"time"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// TestHeldChunkCoalescesInOrder: while the writer is busy, frames append
// to the held chunk in order, each row with its own receive time; the
// gap a symbol's first update closes goes into the same chunk; a chunk
// that reaches maxCoalesce is queued and the next frame starts another.
func TestHeldChunkCoalescesInOrder(t *testing.T) {
	p := benchPipelineNoWriter(t)
	for len(p.queue) > 0 { // the start and subscribe events
		c := <-p.queue
		p.eventsQueued.Add(-1)
		p.free.put(c)
	}
	p.syms[1].gapOpen, p.syms[1].gapStart, p.syms[1].gapReason = true, 5, schema.ReasonEOF
	quote := func(recv, contract int64) *feed.Batch {
		return &feed.Batch{ConnID: 1, RecvTime: recv, Quotes: []feed.Quote{{ContractID: contract, Timestamp: recv}}}
	}
	p.HandleBatch(quote(100, 11))
	c := p.takeHeld() // the "writer" is now busy with the first frame
	if c == nil || c.records() != 1 || p.writerIdle {
		t.Fatalf("first frame: %+v", c)
	}
	p.inflight.Add(-int64(c.records()))
	p.HandleBatch(quote(101, 11))
	p.HandleBatch(quote(102, 22)) // closes S2's gap
	p.HandleBatch(quote(103, 11))
	h := p.held
	if h == nil || len(p.queue) != 0 || h.records() != 3 || p.Buffered() != 3 {
		t.Fatalf("held %+v, queue %d, buffered %d", h, len(p.queue), p.Buffered())
	}
	for i, want := range []int64{101, 102, 103} {
		if r := h.quotes[i]; r.recv != want || r.q.Timestamp != want {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
	if len(h.events) != 1 || h.events[0].ev.Kind != schema.KindGap || *h.events[0].ev.GapEnd != 102 || h.events[0].sym != 1 {
		t.Fatalf("events %+v", h.events)
	}
	for i := h.records(); i < maxCoalesce; i++ {
		p.HandleBatch(quote(200+int64(i), 11))
	}
	if p.held != nil || len(p.queue) != 1 {
		t.Fatalf("full chunk: held %v, queue %d", p.held != nil, len(p.queue))
	}
	p.HandleBatch(quote(time.Now().UnixNano(), 11))
	if p.held == nil || p.held.records() != 1 || p.Buffered() != maxCoalesce+1 {
		t.Fatalf("after the full chunk: held %v, buffered %d", p.held, p.Buffered())
	}
}
