package capture_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
func ns(ms int) int64     { return at(ms).UnixNano() }

func testConfig(symbols ...string) capture.Config {
	return capture.Config{
		Symbols:     symbols,
		DOM:         true,
		RunID:       "test-20261125T120000Z",
		Buffer:      1024,
		FullWait:    -1, // drop at once: the overflow tests script exact losses
		StatusEvery: -1,
		Now:         func() time.Time { return at(1_000_000) },
		Logger:      zerolog.Nop(),
	}
}

// runScript runs the pipeline with a source that plays script on the
// handler and returns.
func runScript(t *testing.T, cfg capture.Config, sink capture.Sink, script func(h feed.Handler)) error {
	t.Helper()
	p, err := capture.New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	return p.Run(context.Background(), func(_ context.Context, h feed.Handler) error {
		script(h)
		return nil
	})
}

func connected(h feed.Handler, conn int64, ms int) {
	h.HandleEvent(feed.Event{Kind: feed.EventConnected, ConnID: conn, Time: at(ms)})
}

func subscribed(h feed.Handler, conn int64, ms int, sym string, contract int64) {
	h.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: conn, Time: at(ms), Symbol: sym, ContractID: contract,
		Detail: map[string]any{"tables": []string{"quotes", "dom"}}})
}

func down(h feed.Handler, conn int64, ms, lastFrame int, reason string) {
	h.HandleEvent(feed.Event{Kind: feed.EventDown, ConnID: conn, Time: at(ms), LastFrame: at(lastFrame), Reason: reason})
}

func quote(h feed.Handler, conn int64, ms int, contract int64, bid float64) {
	h.HandleBatch(&feed.Batch{ConnID: conn, RecvTime: ns(ms), Quotes: []feed.Quote{
		{ContractID: contract, Timestamp: ns(ms - 1), Has: feed.HasBid | feed.HasBidSize, Bid: bid, BidSize: 1},
	}})
}

func f(v float64) *float64 { return &v }

func eqPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func TestPipeline_QuoteNullsDOMListsAndSeq(t *testing.T) {
	sink := newMemSink()
	err := runScript(t, testConfig("ESZ6", "NQZ6"), sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 2, "NQZ6", 22)
		h.HandleBatch(&feed.Batch{ConnID: 1, RecvTime: ns(10), Quotes: []feed.Quote{
			{ContractID: 11, Timestamp: ns(9), Has: feed.HasBid | feed.HasAskSize | feed.HasTotalVolume, Bid: 0, AskSize: 7, TotalVol: 1000},
			{ContractID: 22, Timestamp: ns(9), Has: feed.HasTrade | feed.HasTradeSize | feed.HasSettlement, Trade: 20000.25, TradeSize: 2, Settlement: 19999},
			{ContractID: 11, Timestamp: ns(10), Has: feed.HasOpen | feed.HasHigh | feed.HasLow | feed.HasOpenInterest | feed.HasAsk | feed.HasBidSize,
				Open: 1, High: 2, Low: 0.5, OpenInt: 40000, Ask: 5000.5, BidSize: 3},
		}, DOMs: []feed.DOM{
			{ContractID: 11, Timestamp: ns(8), Bids: []feed.Level{{Price: 5000, Size: 3, HasPrice: true, HasSize: true}, {Price: 4999.75, HasPrice: true}},
				Offers: nil},
		}})
		h.HandleBatch(&feed.Batch{ConnID: 1, RecvTime: ns(20), DOMs: []feed.DOM{
			{ContractID: 11, Timestamp: ns(19), Bids: nil, Offers: []feed.Level{{Size: 4, HasSize: true}}},
		}})
	})
	if err != nil {
		t.Fatal(err)
	}
	es := sink.quotes["ESZ6"]
	if len(es) != 2 || len(sink.quotes["NQZ6"]) != 1 {
		t.Fatalf("quotes: ESZ6 %d NQZ6 %d, want 2 and 1", len(es), len(sink.quotes["NQZ6"]))
	}
	q := es[0]
	if q.Seq != 1 || es[1].Seq != 2 || sink.quotes["NQZ6"][0].Seq != 1 {
		t.Errorf("seq: %d %d %d, want 1 2 1", q.Seq, es[1].Seq, sink.quotes["NQZ6"][0].Seq)
	}
	if q.RecvTS != ns(10) || q.TS != ns(9) || q.ContractID != 11 || q.ConnID != 1 {
		t.Errorf("quote header %+v", q)
	}
	// A present zero stays 0; an absent entry is NULL.
	if !eqPtr(q.BidPrice, f(0)) || q.BidSize != nil || q.AskPrice != nil || !eqPtr(q.AskSize, f(7)) ||
		!eqPtr(q.TotalVolume, f(1000)) || q.TradePrice != nil || q.SettlementPrice != nil || q.OpenPrice != nil {
		t.Errorf("quote nullables wrong: %+v", q)
	}
	q2 := es[1]
	if !eqPtr(q2.OpenPrice, f(1)) || !eqPtr(q2.HighPrice, f(2)) || !eqPtr(q2.LowPrice, f(0.5)) ||
		!eqPtr(q2.OpenInterest, f(40000)) || !eqPtr(q2.AskPrice, f(5000.5)) || !eqPtr(q2.BidSize, f(3)) || q2.BidPrice != nil {
		t.Errorf("second quote nullables wrong: %+v", q2)
	}
	nq := sink.quotes["NQZ6"][0]
	if !eqPtr(nq.TradePrice, f(20000.25)) || !eqPtr(nq.TradeSize, f(2)) || !eqPtr(nq.SettlementPrice, f(19999)) || nq.BidPrice != nil {
		t.Errorf("NQ quote wrong: %+v", nq)
	}
	doms := sink.doms["ESZ6"]
	if len(doms) != 2 || doms[0].Seq != 1 || doms[1].Seq != 2 {
		t.Fatalf("doms: %+v", doms)
	}
	d := doms[0]
	if len(d.BidPrices) != 2 || !eqPtr(d.BidPrices[0], f(5000)) || !eqPtr(d.BidSizes[0], f(3)) ||
		!eqPtr(d.BidPrices[1], f(4999.75)) || d.BidSizes[1] != nil {
		t.Errorf("dom bids wrong: %v %v", d.BidPrices, d.BidSizes)
	}
	if d.AskPrices == nil || len(d.AskPrices) != 0 || len(d.AskSizes) != 0 {
		t.Errorf("empty offers must be an empty list, got %v", d.AskPrices)
	}
	d2 := doms[1]
	if len(d2.BidPrices) != 0 || len(d2.AskPrices) != 1 || d2.AskPrices[0] != nil || !eqPtr(d2.AskSizes[0], f(4)) {
		t.Errorf("second dom wrong: %+v", d2)
	}
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		for _, k := range []string{schema.KindStart, schema.KindConnect, schema.KindSubscribe, schema.KindStop} {
			if n := len(sink.kinds(sym, k)); n != 1 {
				t.Errorf("%s: %d %s rows, want 1", sym, n, k)
			}
		}
		if n := len(sink.kinds(sym, schema.KindGap)); n != 0 {
			t.Errorf("%s: %d gap rows, want 0", sym, n)
		}
		for _, e := range sink.events[sym] {
			if e.RunID != "test-20261125T120000Z" || !json.Valid([]byte(e.Detail)) {
				t.Errorf("bad event row %+v", e)
			}
		}
	}
	if !sink.closed {
		t.Error("sink not closed")
	}
}

func gapOf(t *testing.T, sink *memSink, sym string) schema.Event {
	t.Helper()
	gaps := sink.kinds(sym, schema.KindGap)
	if len(gaps) != 1 {
		t.Fatalf("%s: %d gap rows, want 1: %+v", sym, len(gaps), gaps)
	}
	return gaps[0]
}

func checkGap(t *testing.T, g schema.Event, start, end int64, reason string) {
	t.Helper()
	if g.GapStart == nil || g.GapEnd == nil || *g.GapStart != start || *g.GapEnd != end || g.Reason != reason {
		var s, e int64
		if g.GapStart != nil {
			s = *g.GapStart
		}
		if g.GapEnd != nil {
			e = *g.GapEnd
		}
		t.Errorf("gap = [%v, %v] %q, want [%v, %v] %q", time.Unix(0, s).UTC(), time.Unix(0, e).UTC(), g.Reason,
			time.Unix(0, start).UTC(), time.Unix(0, end).UTC(), reason)
	}
}

func TestPipeline_DropGapFromLastFrameToFirstUpdateAfterResubscribe(t *testing.T) {
	sink := newMemSink()
	err := runScript(t, testConfig("ESZ6", "NQZ6"), sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "NQZ6", 22)
		quote(h, 1, 100, 11, 1)
		quote(h, 1, 120, 22, 1)
		down(h, 1, 200, 150, schema.ReasonEOF) // last frame (a heartbeat) at 150
		connected(h, 2, 300)
		subscribed(h, 2, 301, "ESZ6", 11)
		subscribed(h, 2, 302, "NQZ6", 22)
		quote(h, 2, 310, 11, 2)
		quote(h, 2, 320, 11, 3)
		quote(h, 2, 400, 22, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGap(t, gapOf(t, sink, "ESZ6"), ns(150), ns(310), schema.ReasonEOF)
	checkGap(t, gapOf(t, sink, "NQZ6"), ns(150), ns(400), schema.ReasonEOF)
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		if n := len(sink.kinds(sym, schema.KindDisconnect)); n != 1 {
			t.Errorf("%s: %d disconnect rows, want 1", sym, n)
		}
		rc := sink.kinds(sym, schema.KindReconnect)
		if len(rc) != 1 || rc[0].ConnID != 2 || rc[0].Reason != schema.ReasonEOF {
			t.Errorf("%s: reconnect rows %+v", sym, rc)
		}
		if n := len(sink.kinds(sym, schema.KindConnect)); n != 2 {
			t.Errorf("%s: %d connect rows, want 2", sym, n)
		}
		var d struct{ Tables []string }
		_ = json.Unmarshal([]byte(gapOf(t, sink, sym).Detail), &d)
		if len(d.Tables) != 2 || d.Tables[0] != "quotes" || d.Tables[1] != "dom" {
			t.Errorf("%s: gap tables %v", sym, d.Tables)
		}
	}
	if q := sink.quotes["ESZ6"]; len(q) != 3 || q[2].Seq != 3 || q[1].ConnID != 2 {
		t.Errorf("ESZ6 quotes after reconnect: %+v", q)
	}
}

func TestPipeline_SeveralDropsBeforeDataKeepEarliestStart(t *testing.T) {
	sink := newMemSink()
	err := runScript(t, testConfig("ESZ6"), sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		quote(h, 1, 100, 11, 1)
		down(h, 1, 200, 150, schema.ReasonStale)
		connected(h, 2, 300)
		down(h, 2, 400, 350, schema.ReasonServerClose) // died before resubscribing
		connected(h, 3, 500)
		subscribed(h, 3, 501, "ESZ6", 11)
		quote(h, 3, 600, 11, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGap(t, gapOf(t, sink, "ESZ6"), ns(150), ns(600), schema.ReasonStale)
	if n := len(sink.kinds("ESZ6", schema.KindDisconnect)); n != 2 {
		t.Errorf("%d disconnect rows, want 2", n)
	}
	if n := len(sink.kinds("ESZ6", schema.KindReconnect)); n != 2 {
		t.Errorf("%d reconnect rows, want 2", n)
	}
}

func TestPipeline_StopWhileDisconnectedClosesGapAtStop(t *testing.T) {
	sink := newMemSink()
	cfg := testConfig("ESZ6")
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		quote(h, 1, 100, 11, 1)
		down(h, 1, 200, 150, schema.ReasonReadError)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGap(t, gapOf(t, sink, "ESZ6"), ns(150), cfg.Now().UnixNano(), schema.ReasonReadError)
	evs := sink.events["ESZ6"]
	if last := evs[len(evs)-1]; last.Kind != schema.KindStop || last.Reason != schema.ReasonUserStop {
		t.Errorf("last event %+v, want stop", last)
	}
	if evs[len(evs)-2].Kind != schema.KindGap {
		t.Errorf("gap must come before stop: %+v", evs)
	}
}

func TestPipeline_RotationWritesRotateAndNoGap(t *testing.T) {
	sink := newMemSink()
	err := runScript(t, testConfig("ESZ6", "NQZ6"), sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "NQZ6", 22)
		quote(h, 1, 100, 11, 1)
		connected(h, 2, 200)
		subscribed(h, 2, 201, "ESZ6", 11)
		subscribed(h, 2, 201, "NQZ6", 22)
		h.HandleEvent(feed.Event{Kind: feed.EventRotated, ConnID: 2, PrevConnID: 1, Time: at(250)})
		h.HandleEvent(feed.Event{Kind: feed.EventClosed, ConnID: 1, Time: at(260)})
		quote(h, 2, 300, 11, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		r := sink.kinds(sym, schema.KindRotate)
		if len(r) != 1 || r[0].ConnID != 2 {
			t.Errorf("%s rotate rows %+v", sym, r)
		}
		for _, k := range []string{schema.KindGap, schema.KindDisconnect, schema.KindReconnect} {
			if n := len(sink.kinds(sym, k)); n != 0 {
				t.Errorf("%s: %d %s rows after a rotation, want 0", sym, n, k)
			}
		}
	}
}

func TestPipeline_ShutdownPenaltyAnomalyAndUnknownContract(t *testing.T) {
	sink := newMemSink()
	err := runScript(t, testConfig("ESZ6", "NQZ6"), sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		h.HandleEvent(feed.Event{Kind: feed.EventPenalty, ConnID: 1, Time: at(5), Detail: map[string]any{"p-time": 3}})
		h.HandleEvent(feed.Event{Kind: feed.EventAnomaly, ConnID: 1, Time: at(6), Reason: "malformed", Detail: map[string]any{"count": 4}})
		quote(h, 1, 10, 99, 1) // no symbol maps to 99
		h.HandleEvent(feed.Event{Kind: feed.EventShutdown, ConnID: 1, Time: at(20), Reason: "Maintenance"})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		if p := sink.kinds(sym, schema.KindPenalty); len(p) != 1 || p[0].Detail != `{"p-time":3}` {
			t.Errorf("%s penalty rows %+v", sym, p)
		}
		if s := sink.kinds(sym, schema.KindShutdown); len(s) != 1 || s[0].Detail != `{"reasonCode":"Maintenance"}` ||
			s[0].Reason != schema.ReasonShutdownEvent {
			t.Errorf("%s shutdown rows %+v", sym, s)
		}
		if a := sink.kinds(sym, schema.KindAnomaly); len(a) != 2 {
			t.Errorf("%s: %d anomaly rows, want 2 (malformed, unknown contract)", sym, len(a))
		}
		if len(sink.quotes[sym]) != 0 {
			t.Errorf("%s: phantom quotes %+v", sym, sink.quotes[sym])
		}
	}
}

func TestPipeline_PersistentWriteErrorIsFatalAndStopsSource(t *testing.T) {
	sink := newMemSink()
	sink.failing = true
	cfg := testConfig("ESZ6")
	cfg.WriteErrorLimit = time.Millisecond
	p, err := capture.New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background(), func(ctx context.Context, h feed.Handler) error {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		for i := 0; ctx.Err() == nil; i++ { // until the pipeline gives up
			quote(h, 1, 10+i, 11, 1)
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Run = %v, want the disk error", err)
	}
	if !sink.closed {
		t.Error("sink not closed after a fatal error")
	}
}

func TestPipeline_WriteErrorRecordedAsGapOnceWritingWorks(t *testing.T) {
	sink := newMemSink()
	err := runScript(t, testConfig("ESZ6"), sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		quote(h, 1, 100, 11, 1)
		sink.waitFor(func(s *memSink) bool { return s.nQuotes() == 1 })
		sink.mu.Lock()
		sink.failing = true
		sink.mu.Unlock()
		quote(h, 1, 200, 11, 2)
		quote(h, 1, 300, 11, 3)
		sink.waitFor(func(s *memSink) bool { return len(s.events["ESZ6"]) > 0 }) // events still work
		// Both failed writes have happened once the next chunk is taken; wait
		// for them through a marker event that follows them in the queue.
		h.HandleEvent(feed.Event{Kind: feed.EventAnomaly, Time: at(301), Reason: "marker"})
		sink.waitFor(func(s *memSink) bool {
			for _, e := range s.events["ESZ6"] {
				if e.Reason == "marker" {
					return true
				}
			}
			return false
		})
		sink.mu.Lock()
		sink.failing = false
		sink.mu.Unlock()
		quote(h, 1, 400, 11, 4)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGap(t, gapOf(t, sink, "ESZ6"), ns(200), ns(400), schema.ReasonWriteError)
	q := sink.quotes["ESZ6"]
	if len(q) != 2 || q[0].Seq != 1 || q[1].Seq != 2 || q[1].RecvTS != ns(400) {
		t.Errorf("quotes %+v", q)
	}
}

func TestPipeline_RecoveredCrashGapEndsAtFirstNewRow(t *testing.T) {
	sink := newMemSink()
	cfg := testConfig("ESZ6", "NQZ6")
	cfg.Recovered = []capture.RecoveredGap{
		{Symbol: "ESZ6", Start: ns(-5000), Detail: map[string]any{"dead_run": "w1-x"}},
		{Symbol: "NQZ6", Start: ns(-4000), Detail: map[string]any{"dead_run": "w1-x"}},
	}
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		subscribed(h, 1, 1, "NQZ6", 22)
		quote(h, 1, 100, 11, 1)
		down(h, 1, 200, 150, schema.ReasonEOF) // before NQZ6's first row: one gap, earliest start
		connected(h, 2, 300)
		subscribed(h, 2, 301, "NQZ6", 22)
		quote(h, 2, 400, 22, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	es := sink.kinds("ESZ6", schema.KindGap)
	if len(es) != 2 {
		t.Fatalf("ESZ6 gaps %+v", es)
	}
	checkGap(t, es[0], ns(-5000), ns(100), schema.ReasonCrashRecovery)
	if !strings.Contains(es[0].Detail, `"dead_run":"w1-x"`) {
		t.Errorf("detail %s", es[0].Detail)
	}
	checkGap(t, es[1], ns(150), cfg.Now().UnixNano(), schema.ReasonEOF) // closed by the stop
	checkGap(t, gapOf(t, sink, "NQZ6"), ns(-4000), ns(400), schema.ReasonCrashRecovery)
}
