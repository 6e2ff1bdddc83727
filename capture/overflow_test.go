package capture_test

import (
	"testing"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// waitMarker queues an events-only chunk and waits until the writer has
// written it, so that every chunk queued before it is done.
func waitMarker(h feed.Handler, sink *memSink, ms int) {
	h.HandleEvent(feed.Event{Kind: feed.EventAnomaly, Time: at(ms), Reason: "marker"})
	sink.waitFor(func(s *memSink) bool {
		for _, e := range s.events["ESZ6"] {
			if e.Reason == "marker" && e.RecvTS == ns(ms) {
				return true
			}
		}
		return false
	})
}

func TestPipeline_OverflowRecordsExactlyWhatItDropped(t *testing.T) {
	sink := newMemSink()
	cfg := testConfig("ESZ6", "NQZ6")
	cfg.Buffer = 4
	contracts := map[int64]string{11: "ESZ6", 22: "NQZ6"}
	type sent struct {
		sym  string
		recv int64
	}
	var all []sent
	push := func(h feed.Handler, ms int, contract int64) {
		quote(h, 1, ms, contract, float64(ms))
		all = append(all, sent{contracts[contract], ns(ms)})
	}
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "NQZ6", 22)
		waitMarker(h, sink, 2)
		sink.mu.Lock()
		sink.gate = make(chan struct{}) // the disk stalls
		sink.mu.Unlock()
		for i := 0; i < 4; i++ { // fill the buffer
			push(h, 10+i, []int64{11, 22}[i%2])
		}
		push(h, 20, 22) // lost from here on
		push(h, 21, 11)
		push(h, 22, 22)
		push(h, 23, 11)
		push(h, 24, 11)
		sink.mu.Lock()
		close(sink.gate) // the disk recovers
		sink.gate = nil
		sink.mu.Unlock()
		waitMarker(h, sink, 30)
		push(h, 40, 22) // first kept
		push(h, 41, 11)
		// A second, shorter episode that concerns only ESZ6.
		waitMarker(h, sink, 42)
		sink.mu.Lock()
		sink.gate = make(chan struct{})
		sink.mu.Unlock()
		for i := 0; i < 4; i++ {
			push(h, 50+i, 22)
		}
		push(h, 60, 11)
		sink.mu.Lock()
		close(sink.gate)
		sink.gate = nil
		sink.mu.Unlock()
		waitMarker(h, sink, 61)
		push(h, 70, 22)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Episode 1 lost ES 21,23,24 and NQ 20,22 and ended at 40; episode 2
	// lost ES 60 and ended at 70.
	esGaps := sink.kinds("ESZ6", schema.KindGap)
	nqGaps := sink.kinds("NQZ6", schema.KindGap)
	if len(esGaps) != 2 || len(nqGaps) != 1 {
		t.Fatalf("gaps: ESZ6 %+v NQZ6 %+v", esGaps, nqGaps)
	}
	checkGap(t, esGaps[0], ns(21), ns(40), schema.ReasonBufferFull)
	checkGap(t, esGaps[1], ns(60), ns(70), schema.ReasonBufferFull)
	checkGap(t, nqGaps[0], ns(20), ns(40), schema.ReasonBufferFull)
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		if n := len(sink.kinds(sym, schema.KindOverflow)); n != 2 {
			t.Errorf("%s: %d overflow rows, want 2 (one per episode)", sym, n)
		}
	}
	// Every update sent is in the dataset exactly once, or inside a gap of
	// its symbol; nothing else is in the dataset.
	stored := map[sent]int{}
	for sym, qs := range sink.quotes {
		for i, q := range qs {
			stored[sent{sym, q.RecvTS}]++
			if q.Seq != int64(i+1) {
				t.Errorf("%s: seq %d at position %d", sym, q.Seq, i)
			}
		}
	}
	inGap := func(s sent) bool {
		for _, g := range sink.kinds(s.sym, schema.KindGap) {
			if *g.GapStart <= s.recv && s.recv <= *g.GapEnd {
				return true
			}
		}
		return false
	}
	kept := 0
	for _, s := range all {
		switch n := stored[s]; {
		case n == 1:
			kept++
		case n == 0 && !inGap(s):
			t.Errorf("%s update at %d lost without a gap", s.sym, s.recv)
		case n > 1:
			t.Errorf("%s update at %d stored %d times", s.sym, s.recv, n)
		}
	}
	if total := sink.nQuotes(); total != kept || kept != len(all)-6 {
		t.Errorf("stored %d, kept %d of %d sent; want %d", total, kept, len(all), len(all)-6)
	}
}
