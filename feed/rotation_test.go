package feed

import (
	"sync"
	"testing"
	"time"
)

func TestRotationMakeBeforeBreakNoGapNoDuplicate(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6", "NQZ6")
	cfg.MaxConnAge = 250 * time.Millisecond
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs.market(sym, fs.contracts[sym], 2*time.Millisecond, stop)
		}()
	}
	r := start(t, cfg, rec)
	// Three rotations: conn 1 → 2 → 3 → 4, each announced per symbol.
	for i := 1; i <= 6; i++ {
		rec.waitEvent(EventRotated, i, nil)
	}
	rec.waitEvent(EventClosed, 3, nil)
	for _, c := range []int64{fs.contracts["ESZ6"], fs.contracts["NQZ6"]} {
		rec.waitQuote(func(q recQuote) bool { return q.conn == 4 && q.ContractID == c })
	}
	close(stop)
	wg.Wait()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(EventDown); n != 0 {
		t.Fatalf("rotation produced drops: %v", rec.kinds())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.events {
		if e.Kind == EventRotated && e.PrevConnID+1 != e.ConnID {
			t.Fatalf("rotated %+v", e)
		}
	}
	for _, c := range []int64{fs.contracts["ESZ6"], fs.contracts["NQZ6"]} {
		var seqs []int
		conns := map[int64]bool{}
		for _, q := range rec.quotes {
			if q.ContractID == c {
				seqs = append(seqs, int(q.Bid))
				conns[q.conn] = true
			}
		}
		if len(seqs) < 50 || len(conns) < 4 {
			t.Fatalf("contract %d: %d quotes over %d connections", c, len(seqs), len(conns))
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Fatalf("contract %d: seq %d follows %d (gap or duplicate at a rotation)", c, seqs[i], seqs[i-1])
			}
		}
	}
}

func TestRotationOldConnectionDiesMidway(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6", "NQZ6")
	cfg.MaxConnAge = 200 * time.Millisecond
	cfg.RotateGrace = 10 * time.Second // no data flows: the switch would wait this long
	r := start(t, cfg, rec)
	fc1 := fs.nextConn(t)
	fc2 := fs.nextConn(t) // the rotation's next connection
	rec.waitEvent(EventConnected, 2, nil)
	fc2.nextReq(t, "md/subscribeQuote")
	fc2.nextReq(t, "md/subscribeQuote")
	fc1.cut()
	down := rec.waitEvent(EventDown, 1, nil)
	if down.ConnID != 1 || down.Reason != "eof" {
		t.Fatalf("down %+v", down)
	}
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		if e := rec.waitEvent(EventSubscribed, 1, func(e Event) bool { return e.Symbol == sym && e.ConnID == 2 }); e.ContractID != fs.contracts[sym] {
			t.Fatalf("subscribed %+v", e)
		}
	}
	fc2.quote(1001, time.Now(), 42)
	if q := rec.waitQuote(func(q recQuote) bool { return q.Bid == 42 }); q.conn != 2 {
		t.Fatalf("quote from conn %d", q.conn)
	}
	if rec.count(EventRotated) != 0 {
		t.Fatalf("events %v", rec.kinds())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}
