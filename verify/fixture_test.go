package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
)

// fixture builds datasets in the exact layout the recorder writes:
// <root>/<table>/date=…/symbol=…/<name>.parquet, zstd, schema row types.
type fixture struct {
	t    *testing.T
	root string
	n    int
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, root: t.TempDir()}
}

// base is 2026-11-25 10:00:00 UTC.
var base = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// at returns base + d in Unix nanoseconds.
func at(d time.Duration) int64 { return base.Add(d).UnixNano() }

func (f *fixture) path(t schema.Table, sym string, recv int64) string {
	f.n++
	date := time.Unix(0, recv).UTC().Format(schema.DateFormat)
	dir := filepath.Join(f.root, filepath.FromSlash(schema.PartitionDir(t, date, sym)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return filepath.Join(dir, fmt.Sprintf("w1-%04d.parquet", f.n))
}

func writeFile[T any](t *testing.T, path string, rows []T, rowGroup int) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](fh, parquet.Compression(&zstd.Codec{}))
	for len(rows) > 0 {
		n := min(rowGroup, len(rows))
		if _, err := w.Write(rows[:n]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// quotes writes one quotes file of sym with the given receive times (all
// on one date) and returns its path.
func (f *fixture) quotes(sym string, recv ...int64) string {
	rows := make([]schema.Quote, len(recv))
	for i, r := range recv {
		rows[i] = schema.Quote{RecvTS: r, TS: r, ContractID: 1, ConnID: 1, Seq: int64(i + 1)}
	}
	p := f.path(schema.TableQuotes, sym, recv[0])
	writeFile(f.t, p, rows, 1000)
	return p
}

func (f *fixture) dom(sym string, recv ...int64) string {
	rows := make([]schema.DOM, len(recv))
	px := 100.0
	for i, r := range recv {
		rows[i] = schema.DOM{RecvTS: r, TS: r, ContractID: 1, ConnID: 1, Seq: int64(i + 1), BidPrices: []*float64{&px}}
	}
	p := f.path(schema.TableDOM, sym, recv[0])
	writeFile(f.t, p, rows, 1000)
	return p
}

func (f *fixture) ticks(sym string, recv ...int64) string {
	rows := make([]schema.Tick, len(recv))
	for i, r := range recv {
		rows[i] = schema.Tick{RecvTS: r, TS: r, ContractID: 1, ConnID: 1, TickID: int64(i), Price: 1, Size: 1, Source: schema.SourceLive}
	}
	p := f.path(schema.TableTicks, sym, recv[0])
	writeFile(f.t, p, rows, 1000)
	return p
}

// every returns receive times from a to b (inclusive) every step.
func every(a, b, step time.Duration) []int64 {
	var out []int64
	for d := a; d <= b; d += step {
		out = append(out, at(d))
	}
	return out
}

func (f *fixture) events(sym string, rows ...schema.Event) string {
	p := f.path(schema.TableEvents, sym, rows[0].RecvTS)
	writeFile(f.t, p, rows, 1000)
	return p
}

func ev(kind, run string, recv int64) schema.Event {
	return schema.Event{RecvTS: recv, RunID: run, Kind: kind, ConnID: 1}
}

func gapEv(run, reason string, recv, start, end int64, detail string) schema.Event {
	return schema.Event{RecvTS: recv, RunID: run, Kind: schema.KindGap, GapStart: &start, GapEnd: &end, Reason: reason, ConnID: 1, Detail: detail}
}

func healEv(run string, recv, start, end int64, detail string) schema.Event {
	return schema.Event{RecvTS: recv, RunID: run, Kind: schema.KindHeal, GapStart: &start, GapEnd: &end, ConnID: 1, Detail: detail}
}

func testConfig(root string) Config {
	return Config{Root: root, MaxGap: time.Minute, Silence: 30 * time.Second, Logger: zerolog.Nop()}
}

func mustRun(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func findSymbol(t *testing.T, rep *Report, sym string) SymbolReport {
	t.Helper()
	for _, s := range rep.Symbols {
		if s.Symbol == sym {
			return s
		}
	}
	t.Fatalf("symbol %s not in report (%d symbols)", sym, len(rep.Symbols))
	return SymbolReport{}
}

func findDay(t *testing.T, s SymbolReport, date string) DayReport {
	t.Helper()
	for _, d := range s.Days {
		if d.Date == date {
			return d
		}
	}
	t.Fatalf("date %s not in report of %s", date, s.Symbol)
	return DayReport{}
}
