package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// boundaryCounts are the row counts a round trip must survive, around
// the configured row-group size (100) and the internal batch size.
var boundaryCounts = []int{0, 1, 99, 100, 101, batchRows - 1, batchRows, batchRows + 1, 1000}

func TestRoundTripQuotes(t *testing.T) {
	for _, n := range boundaryCounts {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cfg := testConfig(t)
			d := openDS(t, cfg)
			g := newQuoteGen(uint64(n))
			want := make([]schema.Quote, n)
			var r schema.Quote
			for i := range want {
				g.next(&r, true)
				want[i] = r
				// deep copy: the writer must not keep our pointers
				want[i] = deepQuote(r)
				if err := d.WriteQuote("ESZ6", &r); err != nil {
					t.Fatal(err)
				}
				*r.AskPrice = -1 // reuse of the caller's values must not leak in
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			files := parquetFiles(t, cfg.Root, "quotes")
			if n == 0 && len(files) != 0 {
				t.Fatalf("0 rows made files %v", files)
			}
			got := readAll[schema.Quote](t, files)
			if len(got) != n {
				t.Fatalf("read %d rows, want %d", len(got), n)
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("row %d:\n got %+v\nwant %+v", i, fmtQuote(got[i]), fmtQuote(want[i]))
				}
			}
			if s := d.Stats(); s.RowsWritten[schema.TableQuotes] != int64(n) || int(s.FilesFinalised) != len(files) {
				t.Fatalf("stats %+v, files %d", s, len(files))
			}
			if tf := tempFiles(t, cfg.Root); len(tf) != 0 {
				t.Fatalf("temporary files left: %v", tf)
			}
		})
	}
}

func deepQuote(r schema.Quote) schema.Quote {
	c := r
	for _, p := range []**float64{&c.BidPrice, &c.BidSize, &c.AskPrice, &c.AskSize, &c.TradePrice, &c.TradeSize, &c.TotalVolume, &c.OpenInterest, &c.OpenPrice, &c.HighPrice, &c.LowPrice, &c.SettlementPrice} {
		if *p != nil {
			*p = f64(**p)
		}
	}
	return c
}

func fmtQuote(q schema.Quote) string {
	s := fmt.Sprintf("recv=%d ts=%d cid=%d conn=%d seq=%d", q.RecvTS, q.TS, q.ContractID, q.ConnID, q.Seq)
	for _, p := range []*float64{q.BidPrice, q.BidSize, q.AskPrice, q.AskSize, q.TradePrice, q.TradeSize, q.TotalVolume, q.OpenInterest, q.OpenPrice, q.HighPrice, q.LowPrice, q.SettlementPrice} {
		if p == nil {
			s += " NULL"
		} else {
			s += fmt.Sprintf(" %g", *p)
		}
	}
	return s
}

func deepList(l []*float64) []*float64 {
	if len(l) == 0 {
		return nil
	}
	out := make([]*float64, len(l))
	for i, p := range l {
		if p != nil {
			out[i] = f64(*p)
		}
	}
	return out
}

func TestRoundTripDOM(t *testing.T) {
	for _, n := range boundaryCounts {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cfg := testConfig(t)
			d := openDS(t, cfg)
			g := newDOMGen(uint64(n))
			want := make([]schema.DOM, n)
			var r schema.DOM
			for i := range want {
				g.next(&r, true)
				w := r
				w.BidPrices, w.BidSizes, w.AskPrices, w.AskSizes = deepList(r.BidPrices), deepList(r.BidSizes), deepList(r.AskPrices), deepList(r.AskSizes)
				want[i] = w
				if err := d.WriteDOM("NQZ6", &r); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			got := readAll[schema.DOM](t, parquetFiles(t, cfg.Root, "dom"))
			if len(got) != n {
				t.Fatalf("read %d rows, want %d", len(got), n)
			}
			for i := range want {
				g := got[i]
				g.BidPrices, g.BidSizes, g.AskPrices, g.AskSizes = deepList(g.BidPrices), deepList(g.BidSizes), deepList(g.AskPrices), deepList(g.AskSizes)
				if !reflect.DeepEqual(g, want[i]) {
					t.Fatalf("row %d differs:\n got %+v\nwant %+v", i, g, want[i])
				}
				if want[i].BidSizes != nil && len(want[i].BidSizes) > 3 && want[i].BidSizes[3] == nil && got[i].BidSizes[3] != nil {
					t.Fatalf("row %d: NULL element read back as %v", i, *got[i].BidSizes[3])
				}
			}
		})
	}
}

func TestRoundTripTicksAndEvents(t *testing.T) {
	for _, n := range boundaryCounts {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cfg := testConfig(t)
			d := openDS(t, cfg)
			wantT := make([]schema.Tick, n)
			wantE := make([]schema.Event, n)
			for i := 0; i < n; i++ {
				wantT[i], wantE[i] = tickRow(i), eventRow(i)
				tr, er := tickRow(i), eventRow(i)
				if err := d.WriteTick("ESZ6", &tr); err != nil {
					t.Fatal(err)
				}
				if err := d.WriteEvent("ESZ6", &er); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			gotT := readAll[schema.Tick](t, parquetFiles(t, cfg.Root, "ticks"))
			gotE := readAll[schema.Event](t, parquetFiles(t, cfg.Root, "events"))
			if len(gotT) != n || len(gotE) != n {
				t.Fatalf("read %d ticks, %d events, want %d", len(gotT), len(gotE), n)
			}
			for i := 0; i < n; i++ {
				if !reflect.DeepEqual(gotT[i], wantT[i]) {
					t.Fatalf("tick %d: got %+v want %+v", i, gotT[i], wantT[i])
				}
				if !reflect.DeepEqual(gotE[i], wantE[i]) {
					t.Fatalf("event %d: got %+v want %+v", i, gotE[i], wantE[i])
				}
			}
		})
	}
}

func TestRollInterval(t *testing.T) {
	cfg := testConfig(t)
	now := t0
	cfg.Now = func() time.Time { return now }
	cfg.RollInterval = time.Minute
	d := openDS(t, cfg)
	g := newQuoteGen(1)
	var r schema.Quote
	for i := 0; i < 10; i++ {
		g.next(&r, false)
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rollWait(d, t0.Add(59*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(parquetFiles(t, cfg.Root, "quotes")); n != 0 {
		t.Fatalf("rolled before the interval: %d files", n)
	}
	if err := rollWait(d, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := len(parquetFiles(t, cfg.Root, "quotes")); n != 1 {
		t.Fatalf("after the interval: %d files, want 1", n)
	}
	now = t0.Add(time.Minute)
	for i := 0; i < 5; i++ {
		g.next(&r, false)
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, cfg.Root, "quotes")
	if len(files) != 2 || len(readAll[schema.Quote](t, files)) != 15 {
		t.Fatalf("files %v", files)
	}
}

func TestRollSize(t *testing.T) {
	cfg := testConfig(t)
	cfg.RollSize = 16 << 10
	d := openDS(t, cfg)
	g := newQuoteGen(2)
	var r schema.Quote
	const n = 5000
	for i := 0; i < n; i++ {
		g.next(&r, false)
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, cfg.Root, "quotes")
	if len(files) < 2 {
		t.Fatalf("size roll made %d files", len(files))
	}
	got := readAll[schema.Quote](t, files)
	if len(got) != n {
		t.Fatalf("rows %d", len(got))
	}
	for i, q := range got {
		if q.Seq != int64(i+1) {
			t.Fatalf("row %d has seq %d: order lost across files", i, q.Seq)
		}
	}
	for _, f := range files {
		st, _ := os.Stat(f)
		// Size() is an upper bound, so files stay at or under the limit
		// plus at most one batch.
		if st.Size() > cfg.RollSize+64<<10 {
			t.Errorf("%s is %d bytes, roll size %d", f, st.Size(), cfg.RollSize)
		}
	}
}

func TestDateBoundary(t *testing.T) {
	cfg := testConfig(t)
	d := openDS(t, cfg)
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).UnixNano()
	stamps := []int64{midnight - 2, midnight - 1, midnight, midnight + 1}
	for i, ts := range stamps {
		r := schema.Quote{RecvTS: ts, TS: ts, Seq: int64(i + 1)}
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatal(err)
		}
		e := schema.Event{RecvTS: ts, Kind: schema.KindStart}
		if err := d.WriteEvent("ESZ6", &e); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"quotes", "events"} {
		files := parquetFiles(t, cfg.Root, table)
		if len(files) != 2 {
			t.Fatalf("%s: %d files, want 2: %v", table, len(files), files)
		}
		for _, f := range files {
			date := filepath.Base(filepath.Dir(filepath.Dir(f)))
			for _, q := range readAll[schema.Quote](t, []string{f}) {
				if got := "date=" + time.Unix(0, q.RecvTS).UTC().Format(schema.DateFormat); got != date {
					t.Errorf("%s: row at %s in %s", table, got, f)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Root, "quotes", "date=2026-11-25", "symbol=ESZ6")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Root, "quotes", "date=2026-11-26", "symbol=ESZ6")); err != nil {
		t.Fatal(err)
	}
}

func TestHostileSymbols(t *testing.T) {
	cfg := testConfig(t)
	d := openDS(t, cfg)
	syms := []string{"../x", "a/b", "..", ".", "a\x00b", "\x01\x1f", strings.Repeat("Y", schema.MaxEncodedSymbol), "日本", "%2F"}
	for i, s := range syms {
		r := schema.Quote{RecvTS: t0.UnixNano() + int64(i), Seq: 1}
		if err := d.WriteQuote(s, &r); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	}
	if err := d.WriteQuote("", &schema.Quote{}); err == nil {
		t.Fatal("empty symbol accepted")
	}
	// Too long for a folder name: a clear error, nothing written.
	if err := d.WriteQuote(strings.Repeat("Y", 300), &schema.Quote{}); err == nil || !strings.Contains(err.Error(), "folder name") {
		t.Fatalf("300-byte symbol: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := List(cfg.Root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range entries {
		rel, _ := filepath.Rel(cfg.Root, e.Path)
		if strings.HasPrefix(rel, "..") || strings.Count(filepath.ToSlash(rel), "/") != 3 {
			t.Errorf("file %q outside its partition", rel)
		}
		got[e.Symbol] = true
	}
	for _, s := range syms {
		if !got[s] {
			t.Errorf("symbol %q not read back from the folder names (got %v)", s, got)
		}
	}
	if len(entries) != len(syms) {
		t.Fatalf("%d files for %d symbols", len(entries), len(syms))
	}
}

func TestOpenFileCap(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxOpenFiles = 3
	d := openDS(t, cfg)
	const nsym, per = 10, 4
	for i := 0; i < per; i++ {
		for s := 0; s < nsym; s++ {
			r := schema.Quote{RecvTS: t0.UnixNano() + int64(i), Seq: int64(i + 1)}
			if err := d.WriteQuote(fmt.Sprintf("S%02d", s), &r); err != nil {
				t.Fatal(err)
			}
			if open := d.Stats().FilesOpen; open > 3 {
				t.Fatalf("%d files open", open)
			}
		}
	}
	// The least recently written goes first: S00's file is finalised
	// when S03 opens, not S02's.
	open := d.OpenFiles()
	if len(open) != 3 || !strings.Contains(open[0], "symbol=S09") {
		t.Fatalf("open files %v", open)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	rows := readAll[schema.Quote](t, parquetFiles(t, cfg.Root, "quotes"))
	if len(rows) != nsym*per {
		t.Fatalf("rows %d", len(rows))
	}
}

func TestLRUOrder(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxOpenFiles = 2
	d := openDS(t, cfg)
	w := func(s string) {
		if err := d.WriteQuote(s, &schema.Quote{RecvTS: t0.UnixNano()}); err != nil {
			t.Fatal(err)
		}
	}
	w("A")
	w("B")
	w("A") // A is now the most recent: opening C finalises B
	w("C")
	d.WaitFinalised()
	open := strings.Join(d.OpenFiles(), " ")
	if !strings.Contains(open, "symbol=A") || !strings.Contains(open, "symbol=C") || strings.Contains(open, "symbol=B") {
		t.Fatalf("open: %s", open)
	}
	if n := len(parquetFiles(t, cfg.Root, "quotes")); n != 1 {
		t.Fatalf("%d files finalised, want 1 (B)", n)
	}
	d.Close()
}

func TestFileNamesUnique(t *testing.T) {
	root := t.TempDir()
	names := map[string]bool{}
	for _, c := range []struct{ writer, run string }{
		{"w1", "w1-a"}, {"w2", "w2-a"}, {"w1", "w1-a"}, // restart with the same run id
		{"w_1", "x"}, {"w", "1_x"}, // '_' in ids cannot make two names equal
	} {
		d := openDS(t, Config{Root: root, WriterID: c.writer, RunID: c.run, Logger: cfgLogger()})
		for i := 0; i < 3; i++ {
			if err := d.WriteQuote("ESZ6", &schema.Quote{RecvTS: t0.UnixNano()}); err != nil {
				t.Fatal(err)
			}
			if err := d.Roll(time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range parquetFiles(t, root, "quotes") {
		names[filepath.Base(f)] = true
	}
	if len(names) != 15 {
		t.Fatalf("%d distinct names, want 15: %v", len(names), names)
	}
}

func TestSweepOwnTempFilesOnly(t *testing.T) {
	cfg := testConfig(t)
	dir := filepath.Join(cfg.Root, "quotes", "date=2026-11-25", "symbol=ESZ6")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, tempName(fileName("w1", "old-run", 1)))
	other := filepath.Join(dir, tempName(fileName("w2", "run", 1)))
	prefix := filepath.Join(dir, tempName(fileName("w1x", "run", 1)))
	done := filepath.Join(dir, fileName("w1", "old-run", 2))
	for _, p := range []string{mine, other, prefix, done} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := openDS(t, cfg)
	defer d.Close()
	if d.Stats().TempFilesSwept != 1 {
		t.Fatalf("swept %d", d.Stats().TempFilesSwept)
	}
	if _, err := os.Stat(mine); !os.IsNotExist(err) {
		t.Fatal("own temporary file kept")
	}
	for _, p := range []string{other, prefix, done} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s removed: %v", p, err)
		}
	}
}

func TestWriteFailureKeptAndRetried(t *testing.T) {
	ffs := &faultFS{}
	cfg := testConfig(t)
	cfg.FS = ffs
	now := t0
	cfg.Now = func() time.Time { return now }
	d := openDS(t, cfg)
	g := newQuoteGen(3)
	var r schema.Quote
	ffs.set(func(f *faultFS) { f.writeErr = errNoSpace })
	const n = 2000
	for i := 0; i < n; i++ {
		g.next(&r, true)
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	err := d.Roll(t0.Add(time.Hour))
	if err == nil || !errors.Is(err, errNoSpace) || !isErrorWith(err, "write") || !strings.Contains(err.Error(), ".parquet.tmp") {
		t.Fatalf("Roll with a full disk: %v", err)
	}
	if ffs.failedWrite == 0 {
		t.Fatal("no write failed: the fault was not exercised")
	}
	if files := parquetFiles(t, cfg.Root, "quotes"); len(files) != 0 {
		t.Fatalf("a failed finalise left %v", files)
	}
	if s := d.Stats(); s.FilesPending != 1 || s.RowsLost != 0 || s.WriteErrors == 0 {
		t.Fatalf("stats %+v", s)
	}
	ffs.set(func(f *faultFS) { f.writeErr = nil })
	if err := d.Roll(t0.Add(time.Hour)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll[schema.Quote](t, parquetFiles(t, cfg.Root, "quotes")); len(got) != n {
		t.Fatalf("read %d rows after the disk recovered, want %d", len(got), n)
	}
}

func TestFinaliseStepFailures(t *testing.T) {
	for _, c := range []struct {
		name string
		op   string
		set  func(*faultFS, error)
	}{
		{"fsync", "sync", func(f *faultFS, e error) { f.syncErr = e }},
		{"rename", "rename", func(f *faultFS, e error) { f.renameErr = e }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ffs := &faultFS{}
			cfg := testConfig(t)
			cfg.FS = ffs
			d := openDS(t, cfg)
			for i := 0; i < 300; i++ {
				if err := d.WriteQuote("ESZ6", &schema.Quote{RecvTS: t0.UnixNano() + int64(i), Seq: int64(i + 1)}); err != nil {
					t.Fatal(err)
				}
			}
			boom := errors.New("injected " + c.name + " failure")
			ffs.set(func(f *faultFS) { c.set(f, boom) })
			err := rollWait(d, time.Now().Add(time.Hour))
			if !errors.Is(err, boom) || !isErrorWith(err, c.op) {
				t.Fatalf("Roll: %v", err)
			}
			if files := parquetFiles(t, cfg.Root, "quotes"); len(files) != 0 {
				t.Fatalf("failed %s left %v", c.name, files)
			}
			if tf := tempFiles(t, cfg.Root); len(tf) != 1 {
				t.Fatalf("temporary files %v", tf)
			}
			ffs.set(func(f *faultFS) { c.set(f, nil) })
			if err := d.Close(); err != nil {
				t.Fatalf("Close after recovery: %v", err)
			}
			files := parquetFiles(t, cfg.Root, "quotes")
			if got := readAll[schema.Quote](t, files); len(got) != 300 {
				t.Fatalf("rows %d", len(got))
			}
			// After a failed fsync the bytes are written again into a new
			// file rather than trusting a second fsync.
			if rewritten := strings.HasSuffix(files[0], "_000002.parquet"); rewritten != (c.name == "fsync") {
				t.Fatalf("%s: final file %s", c.name, files[0])
			}
			if tf := tempFiles(t, cfg.Root); len(tf) != 0 {
				t.Fatalf("temporary files %v", tf)
			}
		})
	}
}

func TestWriteFailureBeyondMemoryAbandons(t *testing.T) {
	ffs := &faultFS{}
	cfg := testConfig(t)
	cfg.FS = ffs
	cfg.MaxPendingBytes = 4 << 10
	d := openDS(t, cfg)
	g := newQuoteGen(4)
	var r schema.Quote
	ffs.set(func(f *faultFS) { f.writeErr = errNoSpace })
	var werr error
	for i := 0; i < 5000 && werr == nil; i++ {
		g.next(&r, false)
		werr = d.WriteQuote("ESZ6", &r)
	}
	if werr == nil {
		werr = d.Close()
	}
	if !errors.Is(werr, errNoSpace) || !isErrorWith(werr, "write") {
		t.Fatalf("error %v", werr)
	}
	if s := d.Stats(); s.RowsLost == 0 || s.FilesAbandoned != 1 {
		t.Fatalf("stats %+v", s)
	}
	if files := parquetFiles(t, cfg.Root, "quotes"); len(files) != 0 {
		t.Fatalf("broken file visible: %v", files)
	}
	d.Close()
}

func TestCreateFailureNamesPath(t *testing.T) {
	ffs := &faultFS{}
	ffs.createErr = os.ErrPermission
	cfg := testConfig(t)
	cfg.FS = ffs
	d := openDS(t, cfg)
	err := d.WriteQuote("ESZ6", &schema.Quote{RecvTS: t0.UnixNano()})
	if !errors.Is(err, os.ErrPermission) || !isErrorWith(err, "create") || !strings.Contains(err.Error(), "symbol=ESZ6") {
		t.Fatalf("error %v", err)
	}
	d.Close()
}

func TestClosedDataset(t *testing.T) {
	d := openDS(t, testConfig(t))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteQuote("X", &schema.Quote{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestFailedFinaliseSalvagedOnNextOpen(t *testing.T) {
	ffs := &faultFS{}
	cfg := testConfig(t)
	cfg.FS = ffs
	d := openDS(t, cfg)
	for i := 0; i < 250; i++ {
		if err := d.WriteQuote("ESZ6", &schema.Quote{RecvTS: t0.UnixNano() + int64(i), Seq: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	ffs.set(func(f *faultFS) { f.renameErr = os.ErrPermission })
	if err := d.Close(); !errors.Is(err, os.ErrPermission) || !isErrorWith(err, "rename") {
		t.Fatalf("Close: %v", err)
	}
	if n := len(parquetFiles(t, cfg.Root, "quotes")); n != 0 {
		t.Fatalf("%d files visible after a failed rename", n)
	}
	// An incomplete temporary file of the same writer next to it.
	dir := filepath.Dir(tempFiles(t, cfg.Root)[0])
	broken := filepath.Join(dir, tempName(fileName("w1", "older", 1)))
	if err := os.WriteFile(broken, []byte("PAR1 half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	ffs.set(func(f *faultFS) { f.renameErr = nil })
	cfg.RunID = "w1-next"
	d2 := openDS(t, cfg)
	defer d2.Close()
	if s := d2.Stats(); s.TempFilesSalvaged != 1 || s.TempFilesSwept != 1 {
		t.Fatalf("stats %+v", s)
	}
	if got := readAll[schema.Quote](t, parquetFiles(t, cfg.Root, "quotes")); len(got) != 250 {
		t.Fatalf("salvaged %d rows, want 250", len(got))
	}
	if tf := tempFiles(t, cfg.Root); len(tf) != 0 {
		t.Fatalf("temporary files %v", tf)
	}
}

// syncLogFS records the folders fsynced through a faultFS.
type syncLogFS struct {
	*faultFS
	synced []string
}

func (f *syncLogFS) SyncDir(dir string) error {
	err := f.faultFS.SyncDir(dir)
	if err == nil {
		f.synced = append(f.synced, dir)
	}
	return err
}

// TestNewFoldersAreSynced: opening a file in a new partition fsyncs no
// folder (many partitions open at once without a stall); finalising the
// first file below new folders fsyncs its folder and then the folders
// that got new entries, nearest first, once; a failure fails the finalise,
// which the next Roll retries.
func TestNewFoldersAreSynced(t *testing.T) {
	ffs := &syncLogFS{faultFS: &faultFS{}}
	cfg := testConfig(t)
	cfg.FS = ffs
	d := openDS(t, cfg)
	boom := errors.New("injected sync dir failure")
	ffs.set(func(f *faultFS) { f.syncDirErr = boom })
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		if err := d.WriteQuote(sym, &schema.Quote{RecvTS: t0.UnixNano()}); err != nil {
			t.Fatalf("open %s: %v", sym, err)
		}
	}
	if len(ffs.synced) != 0 {
		t.Fatalf("folders synced before any finalise: %v", ffs.synced)
	}
	later := time.Now().Add(DefaultRollInterval)
	if err := rollWait(d, later); !errors.Is(err, boom) || !isErrorWith(err, "sync dir") {
		t.Fatalf("Roll with failing folder syncs: %v", err)
	}
	ffs.set(func(f *faultFS) { f.syncDirErr = nil })
	if err := rollWait(d, later); err != nil {
		t.Fatal(err)
	}
	date := t0.UTC().Format(schema.DateFormat)
	table := filepath.Join(cfg.Root, "quotes")
	es := filepath.Join(table, "date="+date, "symbol=ESZ6")
	nq := filepath.Join(table, "date="+date, "symbol=NQZ6")
	got := ffs.synced
	// Each file's folder, and the shared parents once, after the first.
	want1 := []string{es, filepath.Dir(es), table, cfg.Root, nq}
	want2 := []string{nq, filepath.Dir(nq), table, cfg.Root, es}
	if !reflect.DeepEqual(got, want1) && !reflect.DeepEqual(got, want2) {
		t.Fatalf("folders synced %v", got)
	}
	if n := len(parquetFiles(t, cfg.Root, "quotes")); n != 2 {
		t.Fatalf("%d files finalised", n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSizeRollFailureReportedByRoll(t *testing.T) {
	ffs := &faultFS{}
	cfg := testConfig(t)
	cfg.FS = ffs
	cfg.RollSize = 8 << 10
	d := openDS(t, cfg)
	boom := errors.New("injected rename failure")
	ffs.set(func(f *faultFS) { f.renameErr = boom })
	g := newQuoteGen(5)
	var r schema.Quote
	const n = 3000
	for i := 0; i < n; i++ {
		g.next(&r, false)
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatalf("row %d was taken but Write failed: %v", i, err)
		}
	}
	d.WaitFinalised()
	if d.Stats().FilesPending == 0 {
		t.Fatal("no size roll happened")
	}
	err := rollWait(d, t0) // nothing is due by age: only the kept errors and retries
	if !errors.Is(err, boom) {
		t.Fatalf("Roll: %v", err)
	}
	ffs.set(func(f *faultFS) { f.renameErr = nil })
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll[schema.Quote](t, parquetFiles(t, cfg.Root, "quotes")); len(got) != n {
		t.Fatalf("rows %d, want %d", len(got), n)
	}
}

// TestRollSpreadsManyFiles: files due together are finalised at most
// maxRollsPerCall per Roll, so the writer does not stall on all their
// fsyncs at once; the next calls finalise the rest, and every row is in
// a finished file.
func TestRollSpreadsManyFiles(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxOpenFiles = 1000
	d := openDS(t, cfg)
	const files = 2*maxRollsPerCall + 5
	for s := 0; s < files; s++ {
		if err := d.WriteQuote(fmt.Sprintf("S%03d", s), &schema.Quote{RecvTS: t0.UnixNano(), Seq: 1}); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(DefaultRollInterval)
	for i, want := range []int{maxRollsPerCall, 2 * maxRollsPerCall, files, files} {
		if err := rollWait(d, later); err != nil {
			t.Fatal(err)
		}
		if n := len(parquetFiles(t, cfg.Root, "quotes")); n != want {
			t.Fatalf("after Roll %d: %d files finished, want %d", i+1, n, want)
		}
	}
	if st := d.Stats(); st.FilesOpen != 0 {
		t.Fatalf("%d files still open", st.FilesOpen)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll[schema.Quote](t, parquetFiles(t, cfg.Root, "quotes")); len(got) != files {
		t.Fatalf("%d rows read back, want %d", len(got), files)
	}
}
