package storage

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// Two instants around midnight UTC.
var (
	beforeMidnight = time.Date(2026, 11, 25, 23, 59, 59, 0, time.UTC).UnixNano()
	afterMidnight  = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).UnixNano()
)

// midnightSymbols are n symbols.
func midnightSymbols(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("S%03dZ6", i)
	}
	return out
}

// writeAll writes rows rows of quotes, dom and ticks for every symbol at
// ts and after, symbol by symbol within each row: file numbers follow
// (symbol, table) in that order.
func writeAll(t *testing.T, d *Dataset, syms []string, ts int64, rows int) {
	t.Helper()
	qg, dg := newQuoteGen(3), newDOMGen(4)
	var q schema.Quote
	var dom schema.DOM
	for r := 0; r < rows; r++ {
		for k, s := range syms {
			at := ts + int64(r*len(syms)+k)
			qg.next(&q, true)
			q.RecvTS = at
			dg.next(&dom, true)
			dom.RecvTS = at
			tk := tickRow(r)
			tk.RecvTS = at
			errs := errors.Join(d.WriteQuote(s, &q), d.WriteDOM(s, &dom), d.WriteTick(s, &tk))
			if errs != nil {
				t.Errorf("write %s: %v", s, errs)
				return
			}
		}
	}
}

// retireAll rolls until no file of the old date is left retiring: all
// are handed to the finaliser.
func retireAll(t *testing.T, d *Dataset) {
	t.Helper()
	for i := 0; d.Stats().FilesRetiring > 0; i++ {
		if i > 100 {
			t.Errorf("%d files still retiring after %d Rolls", d.Stats().FilesRetiring, i)
			return
		}
		if err := d.Roll(time.Unix(0, afterMidnight)); err != nil {
			t.Errorf("Roll: %v", err)
			return
		}
	}
}

// dateFiles lists the finished files of a table of one date.
func dateFiles(t *testing.T, root, table, date string) []string {
	var out []string
	for _, p := range parquetFiles(t, root, table) {
		if strings.Contains(filepath.ToSlash(p), "/date="+date+"/") {
			out = append(out, p)
		}
	}
	return out
}

// TestMidnightManyFilesWriterNeverWaits: at the date change 300 files of
// the old date are finalised while no fsync can finish. Every crossing
// Write returns (the writer never waits for the finaliser's queue), the
// queued files stay unfinished and hold no column buffers, and
// OldestUnfinished advances file by file as fsyncs are let through, in
// hand-over order. After release, Roll and Close, every file is
// finalised exactly once, reads back with parquet-go and no temporary
// file is left.
func TestMidnightManyFilesWriterNeverWaits(t *testing.T) {
	const symbols, rowsBefore = 100, 7
	files := 3 * symbols
	d, _, gate, release := gatedDataset(t, files)
	defer release()
	syms := midnightSymbols(symbols)
	writeAll(t, d, syms, beforeMidnight, rowsBefore)
	if d.FileCounter() != uint64(files) {
		t.Fatalf("%d files opened before midnight, want %d", d.FileCounter(), files)
	}

	crossed := make(chan struct{})
	go func() {
		defer close(crossed)
		writeAll(t, d, syms, afterMidnight, 2)
		retireAll(t, d)
	}()
	select {
	case <-crossed:
	case <-time.After(20 * time.Second):
		release()
		<-crossed
		t.Fatal("the writes crossing midnight waited for a blocked fsync")
	}
	if t.Failed() {
		return
	}
	st := d.Stats()
	if st.FilesFinalising != files || st.FilesPending != files || st.FilesFinalised != 0 || st.FilesOpen != files {
		t.Fatalf("stats while fsync is blocked: %+v", st)
	}
	// The finaliser holds one file in its fsync; the rest wait queued.
	if st.FilesQueued < files-1 || st.FilesQueued > files {
		t.Fatalf("FilesQueued %d, want %d or %d", st.FilesQueued, files-1, files)
	}
	for _, pf := range d.inflight {
		if pf.sink != nil {
			t.Fatalf("queued file %d keeps its column writer", pf.id)
		}
	}
	if low := d.OldestUnfinished(); low != 1 {
		t.Fatalf("OldestUnfinished %d while every fsync is blocked, want 1", low)
	}
	if n := len(parquetFiles(t, d.cfg.Root, "quotes")); n != 0 {
		t.Fatalf("%d files visible before their fsync", n)
	}

	// Let fsyncs through one by one: the watermark follows the oldest
	// file not yet durable.
	for _, n := range []int{1, 10, 150} {
		for d.stats.FilesFinalised < int64(n) {
			gate <- struct{}{}
			d.fin.waitPosted(1)
			d.collect()
		}
		if low := d.OldestUnfinished(); low != uint64(n+1) {
			t.Fatalf("OldestUnfinished %d after %d files finalised, want %d", low, n, n+1)
		}
		if got := d.Stats(); got.FilesFinalised != int64(n) || got.FilesFinalising != files-n {
			t.Fatalf("stats after %d fsyncs: %+v", n, got)
		}
	}
	release()
	if err := rollWait(d, time.Unix(0, afterMidnight)); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.FilesFinalised != int64(files) || st.FilesPending != 0 || st.FilesQueued != 0 {
		t.Fatalf("stats after release: %+v", st)
	}
	if low := d.OldestUnfinished(); low != uint64(files+1) {
		t.Fatalf("OldestUnfinished %d after release, want the first new file %d", low, files+1)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.FilesFinalised != int64(2*files) || st.FilesPending != 0 || st.WriteErrors != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
	if low := d.OldestUnfinished(); low != math.MaxUint64 {
		t.Fatalf("OldestUnfinished %d after Close", low)
	}
	checkMidnightFiles(t, d.cfg.Root, symbols, rowsBefore, 2)
}

// checkMidnightFiles checks that each table has one file per symbol and
// date, holding the rows written then, each once.
func checkMidnightFiles(t *testing.T, root string, symbols, before, after int) {
	t.Helper()
	for _, c := range []struct {
		date string
		rows int
	}{{"2026-11-25", before}, {"2026-11-26", after}} {
		qf, df, tf := dateFiles(t, root, "quotes", c.date), dateFiles(t, root, "dom", c.date), dateFiles(t, root, "ticks", c.date)
		if len(qf) != symbols || len(df) != symbols || len(tf) != symbols {
			t.Fatalf("%s: %d quotes, %d dom, %d ticks files, want %d each", c.date, len(qf), len(df), len(tf), symbols)
		}
		quotes := readAll[schema.Quote](t, qf)
		if len(quotes) != symbols*c.rows {
			t.Fatalf("%s: %d quote rows, want %d", c.date, len(quotes), symbols*c.rows)
		}
		seen := make(map[int64]bool, len(quotes))
		for _, q := range quotes {
			if seen[q.RecvTS] {
				t.Fatalf("%s: quote at %d read twice", c.date, q.RecvTS)
			}
			seen[q.RecvTS] = true
		}
		if n := len(readAll[schema.DOM](t, df)); n != symbols*c.rows {
			t.Fatalf("%s: %d dom rows, want %d", c.date, n, symbols*c.rows)
		}
		if n := len(readAll[schema.Tick](t, tf)); n != symbols*c.rows {
			t.Fatalf("%s: %d tick rows, want %d", c.date, n, symbols*c.rows)
		}
	}
	if tmp := tempFiles(t, root); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

// TestMidnightQueuedFsyncFailureRetried: files queued at the date change
// whose fsync then fails are kept and reported as any failed finalise:
// they stay unfinished (OldestUnfinished, FilesPending), the next Roll
// returns the error and rewrites them into new files, and the rest of
// the queue is finalised meanwhile.
func TestMidnightQueuedFsyncFailureRetried(t *testing.T) {
	const symbols, failing = 20, 15
	files := 3 * symbols
	d, ffs, gate, release := gatedDataset(t, files)
	defer release()
	syms := midnightSymbols(symbols)
	writeAll(t, d, syms, beforeMidnight, 5)
	writeAll(t, d, syms, afterMidnight, 1)
	retireAll(t, d) // every old file queued
	if t.Failed() {
		return
	}
	boom := errors.New("injected fsync failure")
	ffs.set(func(f *faultFS) { f.syncErr = boom })
	for i := 0; i < failing; i++ {
		gate <- struct{}{}
	}
	d.fin.waitPosted(failing)
	ffs.set(func(f *faultFS) { f.syncErr = nil })
	d.collect()
	st := d.Stats()
	if st.FilesPending != files || st.FilesFinalising != files-failing || st.FilesFinalised != 0 {
		t.Fatalf("stats after %d failed fsyncs: %+v", failing, st)
	}
	if low := d.OldestUnfinished(); low != 1 {
		t.Fatalf("OldestUnfinished %d with failed files pending, want 1", low)
	}
	release()
	d.WaitFinalised()
	if low := d.OldestUnfinished(); low != 1 {
		t.Fatalf("OldestUnfinished %d before the retry, want 1", low)
	}
	if got := d.Stats(); got.FilesFinalised != int64(files-failing) || got.FilesPending != failing {
		t.Fatalf("stats before the retry: %+v", got)
	}
	err := rollWait(d, time.Unix(0, afterMidnight))
	if !errors.Is(err, boom) || !isErrorWith(err, "sync") {
		t.Fatalf("Roll after failed fsyncs: %v", err)
	}
	st = d.Stats()
	if st.FilesFinalised != int64(files) || st.FilesPending != 0 || st.WriteErrors != failing {
		t.Fatalf("stats after the retry: %+v", st)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkMidnightFiles(t, d.cfg.Root, symbols, 5, 1)
	// A file whose fsync failed is written again under a new number.
	renamed := 0
	for _, p := range parquetFiles(t, d.cfg.Root, "") {
		var n uint64
		base := filepath.Base(p)
		if _, err := fmt.Sscanf(base[strings.LastIndexByte(base, '_')+1:], "%d.parquet", &n); err == nil && n > uint64(2*files) {
			renamed++
		}
	}
	if renamed != failing {
		t.Fatalf("%d files rewritten under a new number, want %d", renamed, failing)
	}
}

// rowCounter counts the rows a Tails call passes on, per table.
type rowCounter struct{ n [schema.NumTables]int }

func (c *rowCounter) Quote(string, *schema.Quote) { c.n[schema.TableQuotes]++ }
func (c *rowCounter) DOM(string, *schema.DOM)     { c.n[schema.TableDOM]++ }
func (c *rowCounter) Tick(string, *schema.Tick)   { c.n[schema.TableTicks]++ }
func (c *rowCounter) Event(string, *schema.Event) { c.n[schema.TableEvents]++ }

// TestMidnightRetiringSpread: the Writes that cross midnight close no
// file: the files of the old date retire (no new rows, still unfinished,
// their rows still passed on by Tails and counted under
// MaxBufferedBytes) and are closed one every retireEvery Writes and
// maxRollsPerCall per Roll, oldest first; Close closes the rest.
func TestMidnightRetiringSpread(t *testing.T) {
	const symbols, rowsBefore = 100, 20
	files := 3 * symbols
	cfg := testConfig(t)
	cfg.RowGroupRows = DefaultRowGroupRows
	cfg.MaxOpenFiles = files
	cfg.MaxBufferedBytes = 4 << 20
	d := openDS(t, cfg)
	syms := midnightSymbols(symbols)
	writeAll(t, d, syms, beforeMidnight, rowsBefore)
	var before rowCounter
	d.Tails(&before)
	writeAll(t, d, syms, afterMidnight, 1)
	if t.Failed() {
		return
	}
	st := d.Stats()
	// 299 Writes after the first crossing one: none closed yet.
	if st.FilesRetiring != files || st.FilesOpen != files || st.FilesFinalising != 0 || st.FilesFinalised != 0 {
		t.Fatalf("stats after the crossing Writes: %+v", st)
	}
	if n := len(d.OpenFiles()); n != 2*files {
		t.Fatalf("OpenFiles lists %d, want %d", n, 2*files)
	}
	if low := d.OldestUnfinished(); low != 1 {
		t.Fatalf("OldestUnfinished %d with the old date's files retiring, want 1", low)
	}
	var tails rowCounter
	d.Tails(&tails)
	for tb := schema.TableQuotes; tb <= schema.TableTicks; tb++ {
		if want := symbols*rowsBefore - before.n[tb] + symbols; tails.n[tb] != want {
			t.Fatalf("Tails passed %d %s rows, want %d (retiring and new files)", tails.n[tb], tb, want)
		}
	}
	if n := len(parquetFiles(t, cfg.Root, "")); n != 0 {
		t.Fatalf("%d files finalised by the crossing Writes", n)
	}
	// Every Write after the first crossing one counts: the oldest files
	// are closed, one every retireEvery.
	writeAll(t, d, syms, afterMidnight+int64(time.Second), 14)
	closed := (files - 1 + 14*files) / retireEvery
	if closed < 2 {
		t.Fatalf("the test closes %d files by Writes: write more", closed)
	}
	d.WaitFinalised()
	if st := d.Stats(); st.FilesRetiring != files-closed || st.FilesFinalised != int64(closed) || st.BufferedBytes > cfg.MaxBufferedBytes {
		t.Fatalf("stats after %d Writes: %+v (want %d closed)", files-1+14*files, st, closed)
	}
	if low := d.OldestUnfinished(); low != uint64(closed+1) {
		t.Fatalf("OldestUnfinished %d after %d closed, want %d", low, closed, closed+1)
	}
	if err := rollWait(d, time.Unix(0, afterMidnight)); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.FilesRetiring != files-closed-maxRollsPerCall || st.FilesFinalised != int64(closed+maxRollsPerCall) {
		t.Fatalf("stats after a Roll: %+v", st)
	}
	if low := d.OldestUnfinished(); low != uint64(closed+maxRollsPerCall+1) {
		t.Fatalf("OldestUnfinished %d after a Roll, want %d", low, closed+maxRollsPerCall+1)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.FilesFinalised != int64(2*files) || st.FilesRetiring != 0 || st.FilesPending != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
	checkMidnightFiles(t, cfg.Root, symbols, rowsBefore, 15)
}

// TestMidnightRetiringFileAbandonedByShed: a retiring file whose row
// group cannot be written when shed picks it (the disk refuses writes
// beyond MaxPendingBytes) is abandoned like an open one: out of the list
// and of the retiring count, its rows counted lost, OldestUnfinished held
// at it; Close finishes the rest.
func TestMidnightRetiringFileAbandonedByShed(t *testing.T) {
	ffs := &faultFS{}
	cfg := testConfig(t)
	cfg.FS = ffs
	cfg.RowGroupRows = DefaultRowGroupRows
	cfg.MaxPendingBytes = 1 << 10
	cfg.MaxBufferedBytes = 64 << 20
	d := openDS(t, cfg)
	g := newDOMGen(9)
	var r schema.DOM
	const oldRows = 3000
	for i := 0; i < oldRows; i++ {
		g.next(&r, false)
		r.RecvTS = beforeMidnight + int64(i)
		if err := d.WriteDOM("OLDZ6", &r); err != nil {
			t.Fatal(err)
		}
	}
	g.next(&r, false)
	r.RecvTS = afterMidnight
	if err := d.WriteDOM("OLDZ6", &r); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.FilesRetiring != 1 || st.FilesOpen != 1 {
		t.Fatalf("stats after the crossing Write: %+v", st)
	}
	oldTemp := d.tail.temp
	// The budget shrinks and the disk refuses writes: the next Write sheds
	// the retiring file, the largest, whose row group cannot be written.
	d.cfg.MaxBufferedBytes = 64 << 10
	ffs.set(func(f *faultFS) { f.writeErr = errNoSpace })
	g.next(&r, false)
	r.RecvTS = afterMidnight + 1
	if err := d.WriteDOM("NEWZ6", &r); err != nil {
		t.Fatalf("a row for another file: %v", err)
	}
	st := d.Stats()
	if st.FilesAbandoned < 1 || st.FilesRetiring != 0 || st.RowsLost < oldRows {
		t.Fatalf("stats after the shed: %+v", st)
	}
	for _, p := range d.OpenFiles() {
		if p == oldTemp {
			t.Fatalf("abandoned retiring file %s still listed", p)
		}
	}
	if low := d.OldestUnfinished(); low != 1 {
		t.Fatalf("OldestUnfinished %d, want the abandoned file 1", low)
	}
	ffs.set(func(f *faultFS) { f.writeErr = nil })
	err := d.Close()
	if !errors.Is(err, errNoSpace) {
		t.Fatalf("Close: %v, want the abandoned file's error", err)
	}
	if n := len(dateFiles(t, cfg.Root, "dom", "2026-11-25")); n != 0 {
		t.Fatalf("%d files of the abandoned date finalised", n)
	}
	if st := d.Stats(); st.FilesRetiring != 0 || st.FilesOpen != 0 || st.FilesPending != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
}

// gatedDataset opens a dataset with room for files open files whose
// fsyncs wait on gate (one per send); release lets every fsync through,
// once.
func gatedDataset(t *testing.T, files int) (d *Dataset, ffs *faultFS, gate chan struct{}, release func()) {
	t.Helper()
	gate = make(chan struct{})
	ffs = &faultFS{syncGate: gate}
	cfg := testConfig(t)
	cfg.FS = ffs
	cfg.MaxOpenFiles = 2 * files
	d = openDS(t, cfg)
	var once sync.Once
	return d, ffs, gate, func() { once.Do(func() { close(gate) }) }
}
