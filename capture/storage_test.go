package capture_test

import (
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

func openDataset(t *testing.T, root string) *storage.Dataset {
	t.Helper()
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "test", RunID: "test-run", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestPipeline_RealDatasetRoundTrip writes through storage and reads the
// Parquet back with parquet-go: NULLs, lists, seq and gap rows survive.
func TestPipeline_RealDatasetRoundTrip(t *testing.T) {
	root := t.TempDir()
	ds := openDataset(t, root)
	err := runScript(t, testConfig("ESZ6", "N/Q 6"), ds, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "N/Q 6", 22)
		h.HandleBatch(&feed.Batch{ConnID: 1, RecvTime: ns(10), Quotes: []feed.Quote{
			{ContractID: 11, Timestamp: ns(9), Has: feed.HasBid | feed.HasAskSize, Bid: 0, AskSize: 7},
			{ContractID: 22, Timestamp: ns(9), Has: feed.HasTrade, Trade: 1.5},
		}, DOMs: []feed.DOM{{ContractID: 11, Timestamp: ns(8),
			Bids: []feed.Level{{Price: 5000, Size: 3, HasPrice: true, HasSize: true}, {Price: 4999.75, HasPrice: true}}}}})
		down(h, 1, 200, 150, schema.ReasonStale)
		connected(h, 2, 300)
		subscribed(h, 2, 301, "ESZ6", 11)
		subscribed(h, 2, 301, "N/Q 6", 22)
		quote(h, 2, 400, 11, 5)
		quote(h, 2, 450, 22, 6)
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	if err := d.CheckSeq(); err != nil {
		t.Error(err)
	}
	es := d.Quotes["ESZ6"]
	if len(es) != 2 || len(d.Quotes["N/Q 6"]) != 2 {
		t.Fatalf("quotes: %d ESZ6, %d N/Q 6", len(es), len(d.Quotes["N/Q 6"]))
	}
	if !eqPtr(es[0].BidPrice, f(0)) || es[0].BidSize != nil || !eqPtr(es[0].AskSize, f(7)) || es[0].TradePrice != nil {
		t.Errorf("nullable columns after the round trip: %+v", es[0])
	}
	dom := d.DOMs["ESZ6"]
	if len(dom) != 1 || len(dom[0].BidPrices) != 2 || dom[0].BidSizes[1] != nil || !eqPtr(dom[0].BidPrices[1], f(4999.75)) ||
		len(dom[0].AskPrices) != 0 {
		t.Errorf("dom after the round trip: %+v", dom)
	}
	for sym, end := range map[string]int64{"ESZ6": ns(400), "N/Q 6": ns(450)} {
		gaps := d.Kind(sym, schema.KindGap)
		if len(gaps) != 1 {
			t.Fatalf("%s: gaps %+v", sym, gaps)
		}
		checkGap(t, gaps[0], ns(150), end, schema.ReasonStale)
		for _, k := range []string{schema.KindStart, schema.KindDisconnect, schema.KindReconnect, schema.KindStop} {
			if n := len(d.Kind(sym, k)); n != 1 {
				t.Errorf("%s: %d %s rows, want 1", sym, n, k)
			}
		}
	}
}

// stallingSink is the real dataset behind a gate: while the gate is shut,
// writes of data rows wait (a disk that stalls). Writing an events row
// whose reason is "marker" is announced on markers.
type stallingSink struct {
	*storage.Dataset
	mu      sync.Mutex
	gate    chan struct{}
	markers chan int64
}

func (s *stallingSink) wait() {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		<-g
	}
}

func (s *stallingSink) WriteQuote(sym string, r *schema.Quote) error {
	s.wait()
	return s.Dataset.WriteQuote(sym, r)
}

func (s *stallingSink) WriteDOM(sym string, r *schema.DOM) error {
	s.wait()
	return s.Dataset.WriteDOM(sym, r)
}

func (s *stallingSink) WriteEvent(sym string, r *schema.Event) error {
	err := s.Dataset.WriteEvent(sym, r)
	if r.Reason == "marker" && sym == "ESZ6" {
		s.markers <- r.RecvTS
	}
	return err
}

func (s *stallingSink) stall() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *stallingSink) resume() {
	s.mu.Lock()
	close(s.gate)
	s.gate = nil
	s.mu.Unlock()
}

// TestPipeline_SlowDiskOverflowRecordsExactlyWhatItDropped stalls the
// writer while bursts arrive, then reads the Parquet back: every update
// sent is stored exactly once or lies inside a buffer_full gap of its
// symbol, and only updates the buffer could not hold are missing.
func TestPipeline_SlowDiskOverflowRecordsExactlyWhatItDropped(t *testing.T) {
	root := t.TempDir()
	sink := &stallingSink{Dataset: openDataset(t, root), markers: make(chan int64, 1)}
	cfg := testConfig("ESZ6", "NQZ6")
	cfg.Buffer = 64
	contracts := []int64{11, 22}
	syms := map[int64]string{11: "ESZ6", 22: "NQZ6"}
	type key struct {
		sym string
		ts  int64
	}
	var sent []key
	recvOf := map[key]int64{}
	ms := 10
	burst := func(h feed.Handler, frames int) {
		for i := 0; i < frames; i++ {
			ms++
			c := contracts[(i/3)%2]
			b := &feed.Batch{ConnID: 1, RecvTime: ns(ms)}
			for j := 0; j < 1+i%4; j++ { // 1..4 updates per frame, both tables
				ts := ns(ms) + int64(j)
				if j%2 == 0 {
					b.Quotes = append(b.Quotes, feed.Quote{ContractID: c, Timestamp: ts, Has: feed.HasTrade, Trade: float64(ms)})
				} else {
					b.DOMs = append(b.DOMs, feed.DOM{ContractID: c, Timestamp: ts})
				}
				sent = append(sent, key{syms[c], ts})
				recvOf[key{syms[c], ts}] = ns(ms)
			}
			h.HandleBatch(b)
		}
	}
	catchUp := func(h feed.Handler) { // wait until the writer has written everything queued
		ms++
		h.HandleEvent(feed.Event{Kind: feed.EventAnomaly, Time: at(ms), Reason: "marker"})
		if got := <-sink.markers; got != ns(ms) {
			t.Errorf("marker %d, want %d", got, ns(ms))
		}
	}
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "NQZ6", 22)
		burst(h, 20)
		catchUp(h)
		sink.stall()
		burst(h, 100)
		sink.resume()
		catchUp(h)
		burst(h, 20)
		catchUp(h)
		sink.stall()
		burst(h, 60)
		sink.resume()
		catchUp(h)
		burst(h, 10)
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSeq(); err != nil {
		t.Error(err)
	}
	stored := map[key]int{}
	for sym, rows := range d.Quotes {
		for _, r := range rows {
			stored[key{sym, r.TS}]++
		}
	}
	for sym, rows := range d.DOMs {
		for _, r := range rows {
			stored[key{sym, r.TS}]++
		}
	}
	sentSet := map[key]bool{}
	missing := 0
	for _, k := range sent {
		sentSet[k] = true
		switch n := stored[k]; {
		case n > 1:
			t.Errorf("%v stored %d times", k, n)
		case n == 0:
			missing++
			if !d.InGap(k.sym, recvOf[k]) {
				t.Errorf("%v missing without a gap", k)
			}
		}
	}
	for k := range stored {
		if !sentSet[k] {
			t.Errorf("phantom row %v", k)
		}
	}
	var gaps, overflows int
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		for _, g := range d.Kind(sym, schema.KindGap) {
			if g.Reason != schema.ReasonBufferFull {
				t.Errorf("unexpected gap %+v", g)
			}
			gaps++
		}
		overflows += len(d.Kind(sym, schema.KindOverflow))
	}
	// Two stalls, each longer than the buffer: at least two episodes (a
	// slow first file open may add one), each with one overflow row per
	// symbol and one gap for each symbol that lost updates.
	if missing == 0 || overflows < 4 || overflows%2 != 0 || gaps < 4 || gaps > overflows {
		t.Errorf("missing %d of %d, %d gaps, %d overflow rows; want >0, 4+, 4+", missing, len(sent), gaps, overflows)
	}
	t.Logf("sent %d updates, %d dropped and covered by %d gap rows", len(sent), missing, gaps)
}
