package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/internal/readers"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/sim"
)

// syncBuffer is a bytes.Buffer safe for the simulator's and the recorder's
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watcher sits between the feed and the pipeline and lets a test await
// what the feed delivered.
type watcher struct {
	h      feed.Handler
	mu     sync.Mutex
	conn   int64                     // latest connection that came up
	data   map[int64]map[int64]int   // conn → contract → batches
	subs   map[int64]map[string]bool // conn → symbols subscribed
	events []feed.Event
	notify chan struct{}
}

func newWatcher() *watcher {
	return &watcher{data: map[int64]map[int64]int{}, subs: map[int64]map[string]bool{}, notify: make(chan struct{}, 1)}
}

func (w *watcher) wrap(h feed.Handler) feed.Handler { w.h = h; return w }

func (w *watcher) poke() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watcher) HandleBatch(b *feed.Batch) {
	w.h.HandleBatch(b)
	w.mu.Lock()
	m := w.data[b.ConnID]
	if m == nil {
		m = map[int64]int{}
		w.data[b.ConnID] = m
	}
	for _, q := range b.Quotes {
		m[q.ContractID]++
	}
	for _, d := range b.DOMs {
		m[d.ContractID]++
	}
	w.mu.Unlock()
	w.poke()
}

func (w *watcher) HandleEvent(e feed.Event) {
	w.h.HandleEvent(e)
	w.mu.Lock()
	w.events = append(w.events, e)
	switch e.Kind {
	case feed.EventConnected:
		w.conn = e.ConnID
	case feed.EventSubscribed, feed.EventRotated:
		if w.subs[e.ConnID] == nil {
			w.subs[e.ConnID] = map[string]bool{}
		}
		w.subs[e.ConnID][e.Symbol] = true
	}
	w.mu.Unlock()
	w.poke()
}

// await waits until cond (called with the lock held) holds.
func (w *watcher) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-w.notify:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// awaitFlowing waits for a connection after `after` that carries data of
// every contract seen so far (both symbols) and returns its id.
func (w *watcher) awaitFlowing(t *testing.T, after int64, n int) int64 {
	t.Helper()
	var conn int64
	w.await(t, fmt.Sprintf("data on a connection after %d", after), func() bool {
		conn = w.conn
		if conn <= after || len(w.subs[conn]) < 2 {
			return false
		}
		m := w.data[conn]
		if len(m) < 2 {
			return false
		}
		for _, c := range m {
			if c < n {
				return false
			}
		}
		return true
	})
	return conn
}

func (w *watcher) count(kind feed.EventKind) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// e2e is one recorder run against an in-process simulator.
type e2e struct {
	srv    *sim.Server
	truth  *syncBuffer
	logs   *syncBuffer
	cfg    recordConfig
	w      *watcher
	cancel context.CancelFunc
	done   chan error
}

func startE2E(t *testing.T, simTune func(*sim.Config), tune func(*recordConfig)) *e2e {
	t.Helper()
	e := &e2e{truth: &syncBuffer{}, logs: &syncBuffer{}, w: newWatcher(), done: make(chan error, 1)}
	scfg := sim.DefaultConfig()
	scfg.Rate = 40
	scfg.GroundTruth = e.truth
	scfg.PenaltyWait = 200 * time.Millisecond
	scfg.Logger = zerolog.New(e.logs).With().Str("part", "sim").Logger()
	if simTune != nil {
		simTune(&scfg)
	}
	srv, err := sim.Start(scfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	t.Cleanup(func() { srv.Close() })
	e.cfg = recordConfig{
		Out: t.TempDir(), Symbols: []string{"ESZ6", "NQZ6"}, DOM: true,
		MDURL: srv.WSURL(), AuthURL: srv.RESTURL(),
		Username: sim.DefaultUsername, Password: sim.DefaultPassword, AppID: sim.DefaultAppID, AppVersion: "test",
		CID: sim.DefaultCID, Sec: sim.DefaultSec, DeviceID: "e2e",
		WriterID: "e2e", SyncInterval: time.Second,
		Heartbeat: 200 * time.Millisecond, StaleAfter: 800 * time.Millisecond, RequestTimeout: 2 * time.Second,
		MaxConnAge: 23 * time.Hour, RollInterval: time.Second, RollSize: 128 << 20, Buffer: 65536,
		LogFormat: "json",
	}
	e.cfg.hooks.handler = e.w.wrap
	e.cfg.hooks.feed = func(c *feed.Config) {
		c.BackoffMin, c.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
		c.MaintenanceWait, c.LockoutWait = 100*time.Millisecond, 200*time.Millisecond
	}
	if tune != nil {
		tune(&e.cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- record(ctx, e.cfg, e.logs) }()
	t.Cleanup(func() {
		cancel()
		<-e.done
		if t.Failed() {
			logs := e.logs.String()
			if len(logs) > 20000 {
				logs = "…" + logs[len(logs)-20000:]
			}
			t.Logf("logs:\n%s", logs)
		}
	})
	return e
}

// stop ends the recording, closes the simulator (flushing its ground
// truth) and returns the dataset and the comparison with the truth.
func (e *e2e) stop(t *testing.T) (*capturetest.Dataset, capturetest.Report, *capturetest.Truth) {
	t.Helper()
	e.cancel()
	if err := <-e.done; err != nil {
		t.Fatalf("record returned %v\nlogs:\n%s", err, e.logs.String())
	}
	e.done <- nil // for the cleanup
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := capturetest.Read(e.cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := capturetest.ReadTruth(strings.NewReader(e.truth.String()))
	if err != nil {
		t.Fatal(err)
	}
	r := capturetest.Compare(d, tr, 50*time.Millisecond)
	for i, p := range r.Problems {
		if i == 20 {
			t.Errorf("… %d more problems", len(r.Problems)-20)
			break
		}
		t.Error(p)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	if err := d.CheckSeq(); err != nil {
		t.Error(err)
	}
	if r.Sent == 0 || r.Stored == 0 {
		t.Errorf("nothing recorded: %+v", r)
	}
	t.Logf("sent %d updates, stored %d rows, %d sent inside gaps", r.Sent, r.Stored, r.Covered)
	return d, r, tr
}

func kinds(d *capturetest.Dataset, sym, kind string) []schema.Event { return d.Kind(sym, kind) }

// TestRecord_FaultsAgainstGroundTruth runs the recorder against the
// simulator while it drops, stalls, closes, shuts down, expires tokens,
// penalises the token request and sends malformed frames; then checks the
// dataset against the simulator's ground truth.
func TestRecord_FaultsAgainstGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startE2E(t, func(c *sim.Config) { c.Rules.TokenExpiry = sim.TokenCut }, nil)
	w := e.w
	conn := w.awaitFlowing(t, 0, 3)
	faults := []struct {
		name   string
		inject func()
	}{
		{"silent drop", e.srv.DropAll},
		{"half-open stall", func() { e.srv.Stall(3 * time.Second) }},
		{"close frame", func() { e.srv.CloseAll(4000, "bye") }},
		{"shutdown event", func() { e.srv.Shutdown("Maintenance", "test") }},
		{"token expiry", e.srv.ExpireTokens},
		{"token expiry with penalty", func() { e.srv.PenalizeAuth(1); e.srv.ExpireTokens() }},
	}
	for i, f := range faults {
		f.inject()
		next := w.awaitFlowing(t, conn, 3)
		t.Logf("fault %d (%s): conn %d → %d", i+1, f.name, conn, next)
		conn = next
	}
	if err := e.srv.Malformed(sim.MalformedJSON); err != nil {
		t.Fatal(err)
	}
	w.await(t, "anomaly", func() bool {
		for _, ev := range w.events {
			if ev.Kind == feed.EventAnomaly {
				return true
			}
		}
		return false
	})
	drops := w.count(feed.EventDown)
	d, _, _ := e.stop(t)
	checkWithDuckDB(t, e.cfg.Out, d)
	if drops != len(faults) {
		t.Errorf("feed reported %d drops for %d faults", drops, len(faults))
	}
	for _, sym := range e.cfg.Symbols {
		disc, reco, gaps := kinds(d, sym, schema.KindDisconnect), kinds(d, sym, schema.KindReconnect), kinds(d, sym, schema.KindGap)
		if len(disc) != drops || len(reco) != drops || len(gaps) != drops {
			t.Errorf("%s: %d disconnect, %d reconnect, %d gap rows; want %d each", sym, len(disc), len(reco), len(gaps), drops)
		}
		reasons := map[string]int{}
		for _, g := range gaps {
			reasons[g.Reason]++
			if g.GapStart == nil || g.GapEnd == nil || *g.GapEnd < *g.GapStart || !strings.Contains(g.Detail, `"tables":["quotes","dom"]`) {
				t.Errorf("%s: bad gap row %+v", sym, g)
			}
		}
		if reasons[schema.ReasonStale] != 1 || reasons[schema.ReasonServerClose]+reasons[schema.ReasonShutdownEvent] < 2 {
			t.Errorf("%s: gap reasons %v", sym, reasons)
		}
		if n := len(kinds(d, sym, schema.KindShutdown)); n != 1 {
			t.Errorf("%s: %d shutdown rows, want 1", sym, n)
		}
		if n := len(kinds(d, sym, schema.KindAnomaly)); n < 1 {
			t.Errorf("%s: no anomaly row for the malformed frame", sym)
		}
		if n := len(kinds(d, sym, schema.KindPenalty)); n < 1 {
			t.Errorf("%s: no penalty row for the penalised token request", sym)
		}
		for _, k := range []string{schema.KindStart, schema.KindStop} {
			if n := len(kinds(d, sym, k)); n != 1 {
				t.Errorf("%s: %d %s rows, want 1", sym, n, k)
			}
		}
	}
}

// TestRecord_RotationStoresOverlapOnce rotates the connection every
// second (make-before-break): rotate rows, no gaps, nothing twice.
func TestRecord_RotationStoresOverlapOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startE2E(t, nil, func(c *recordConfig) { c.MaxConnAge = 700 * time.Millisecond })
	conn := e.w.awaitFlowing(t, 0, 3)
	for i := 0; i < 2; i++ {
		conn = e.w.awaitFlowing(t, conn, 3)
	}
	d, _, _ := e.stop(t)
	for _, sym := range e.cfg.Symbols {
		if n := len(kinds(d, sym, schema.KindRotate)); n < 2 {
			t.Errorf("%s: %d rotate rows, want 2 or more", sym, n)
		}
		for _, k := range []string{schema.KindGap, schema.KindDisconnect} {
			if n := len(kinds(d, sym, k)); n != 0 {
				t.Errorf("%s: %d %s rows in a rotation-only run", sym, n, k)
			}
		}
	}
}

// TestRecord_RuleViolationsAreDrops lets the server cut connections for
// breaking its rules (client heartbeats too slow for its timeout): every
// cut is a recorded drop and the data still matches the ground truth.
func TestRecord_RuleViolationsAreDrops(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startE2E(t, func(c *sim.Config) { c.Rules.ClientTimeout = 500 * time.Millisecond },
		func(c *recordConfig) { c.Heartbeat, c.StaleAfter = 900*time.Millisecond, 3*time.Second })
	conn := e.w.awaitFlowing(t, 0, 1)
	e.w.awaitFlowing(t, conn, 1) // the first connection was cut
	drops := e.w.count(feed.EventDown)
	d, _, _ := e.stop(t)
	for _, sym := range e.cfg.Symbols {
		if n := len(kinds(d, sym, schema.KindDisconnect)); n < 1 || n > drops+1 {
			t.Errorf("%s: %d disconnect rows for %d drops", sym, n, drops)
		}
	}
}

// checkWithDuckDB reads the dataset back with DuckDB, as a user would
// (one query, since each starts a DuckDB process), and compares what it
// sees with what parquet-go read. It skips when DuckDB is not installed.
func checkWithDuckDB(t *testing.T, root string, d *capturetest.Dataset) {
	t.Helper()
	if ok, why := readers.Available(); !ok {
		t.Logf("DuckDB check skipped: %s", why)
		return
	}
	glob := func(table string) string {
		return fmt.Sprintf("read_parquet('%s/%s/**/*.parquet', hive_partitioning = true)", root, table)
	}
	sql := "SELECT 'quotes' AS what, symbol, count(*) AS n, count(DISTINCT seq) AS a, max(seq) AS b FROM " + glob("quotes") +
		" GROUP BY symbol UNION ALL " +
		"SELECT 'dom', symbol, count(*), count(DISTINCT seq), count(*) FILTER (WHERE len(bid_prices) > 0 AND bid_prices[1] < ask_prices[1]) FROM " +
		glob("dom") + " GROUP BY symbol UNION ALL " +
		"SELECT 'gaps', symbol, count(*), count(*) FILTER (WHERE gap_end >= gap_start), " +
		"count(*) FILTER (WHERE json_extract_string(detail, '$.tables[0]') = 'quotes') FROM " + glob("events") +
		" WHERE kind = 'gap' GROUP BY symbol ORDER BY what, symbol"
	seen := map[string]bool{}
	for _, r := range readers.DuckDB(t, sql) {
		what, sym := fmt.Sprint(r["what"]), fmt.Sprint(r["symbol"])
		seen[what+"/"+sym] = true
		var want int
		switch what {
		case "quotes":
			want = len(d.Quotes[sym])
		case "dom":
			want = len(d.DOMs[sym])
		case "gaps":
			want = len(d.Kind(sym, schema.KindGap))
		}
		w := fmt.Sprint(want)
		if fmt.Sprint(r["n"]) != w || fmt.Sprint(r["a"]) != w || (what != "dom" && fmt.Sprint(r["b"]) != w) {
			t.Errorf("DuckDB %s %s: %v; parquet-go read %d rows", what, sym, r, want)
		}
	}
	for sym := range d.Quotes {
		if !seen["quotes/"+sym] {
			t.Errorf("DuckDB does not see the quotes of %s", sym)
		}
	}
}

// gatedSink stalls the writer's data writes while its gate is shut.
type gatedSink struct {
	capture.Sink
	mu   sync.Mutex
	gate chan struct{}
}

func (g *gatedSink) wait() {
	g.mu.Lock()
	c := g.gate
	g.mu.Unlock()
	if c != nil {
		<-c
	}
}

func (g *gatedSink) WriteQuote(sym string, r *schema.Quote) error {
	g.wait()
	return g.Sink.WriteQuote(sym, r)
}

func (g *gatedSink) WriteDOM(sym string, r *schema.DOM) error {
	g.wait()
	return g.Sink.WriteDOM(sym, r)
}

func (g *gatedSink) set(shut bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if shut {
		g.gate = make(chan struct{})
	} else if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

// TestRecord_SlowDiskOverflowAgainstGroundTruth stalls the writer while
// the simulator streams into a small buffer: the socket keeps being read,
// the updates that do not fit are dropped, and the dataset, compared with
// what the server sent, holds every other update exactly once while every
// dropped one lies inside a buffer_full gap of its symbol.
func TestRecord_SlowDiskOverflowAgainstGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	gs := &gatedSink{}
	e := startE2E(t, func(c *sim.Config) { c.Rate = 200 }, func(c *recordConfig) {
		c.Buffer = 64
		c.hooks.sink = func(s capture.Sink) capture.Sink { gs.Sink = s; return gs }
	})
	conn := e.w.awaitFlowing(t, 0, 3)
	for round := 0; round < 2; round++ {
		gs.set(true)
		// Stall until the feed has delivered well over a buffer's worth.
		e.w.mu.Lock()
		base := 0
		for _, n := range e.w.data[conn] {
			base += n
		}
		e.w.mu.Unlock()
		e.w.await(t, "a burst during the stall", func() bool {
			n := 0
			for _, c := range e.w.data[conn] {
				n += c
			}
			return n > base+200
		})
		gs.set(false)
		e.w.await(t, "data after the stall", func() bool {
			n := 0
			for _, c := range e.w.data[conn] {
				n += c
			}
			return n > base+300
		})
	}
	d, r, _ := e.stop(t)
	if r.Covered == 0 {
		t.Errorf("no update fell inside a gap: the stall did not overflow the buffer")
	}
	drops := e.w.count(feed.EventDown)
	for _, sym := range e.cfg.Symbols {
		if n := len(kinds(d, sym, schema.KindOverflow)); n < 2 {
			t.Errorf("%s: %d overflow rows, want 2 or more", sym, n)
		}
		for _, g := range kinds(d, sym, schema.KindGap) {
			if g.Reason != schema.ReasonBufferFull && drops == 0 {
				t.Errorf("%s: unexpected gap %+v", sym, g)
			}
		}
	}
	if drops != 0 {
		t.Logf("note: %d connection drops during the run", drops)
	}
}
