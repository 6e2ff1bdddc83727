// Package verifytest builds small mdcap datasets with known contents for
// tests: Parquet files written with parquet-go from the schema row types,
// zstd-compressed, in the exact layout the recorder writes
// (<root>/<table>/date=…/symbol=…/<name>.parquet).
package verifytest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/mdcap/mdcap/schema"
)

// Dataset is a dataset root under construction.
type Dataset struct {
	tb   testing.TB
	Root string
	n    int
}

// New creates an empty dataset root in a temporary folder.
func New(tb testing.TB) *Dataset {
	return &Dataset{tb: tb, Root: tb.TempDir()}
}

// Path returns a new file name in the partition of table t for sym and the
// UTC date of recv, creating the folder.
func (d *Dataset) Path(t schema.Table, sym string, recv int64) string {
	d.n++
	date := time.Unix(0, recv).UTC().Format(schema.DateFormat)
	dir := filepath.Join(d.Root, filepath.FromSlash(schema.PartitionDir(t, date, sym)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		d.tb.Fatal(err)
	}
	return filepath.Join(dir, fmt.Sprintf("w1-%04d.parquet", d.n))
}

// WriteFile writes rows to path, rowGroup rows per row group.
func WriteFile[T any](tb testing.TB, path string, rows []T, rowGroup int) {
	tb.Helper()
	fh, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](fh, parquet.Compression(&zstd.Codec{}))
	for len(rows) > 0 {
		n := min(rowGroup, len(rows))
		if _, err := w.Write(rows[:n]); err != nil {
			tb.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		tb.Fatal(err)
	}
}

// Quotes writes one quotes file of sym with the given receive times (all
// on one UTC date) and returns its path.
func (d *Dataset) Quotes(sym string, recv ...int64) string {
	rows := make([]schema.Quote, len(recv))
	for i, r := range recv {
		rows[i] = schema.Quote{RecvTS: r, TS: r, ContractID: 1, ConnID: 1, Seq: int64(i + 1)}
	}
	p := d.Path(schema.TableQuotes, sym, recv[0])
	WriteFile(d.tb, p, rows, 1000)
	return p
}

// DOM writes one dom file like Quotes.
func (d *Dataset) DOM(sym string, recv ...int64) string {
	rows := make([]schema.DOM, len(recv))
	px := 100.0
	for i, r := range recv {
		rows[i] = schema.DOM{RecvTS: r, TS: r, ContractID: 1, ConnID: 1, Seq: int64(i + 1), BidPrices: []*float64{&px}}
	}
	p := d.Path(schema.TableDOM, sym, recv[0])
	WriteFile(d.tb, p, rows, 1000)
	return p
}

// Ticks writes one ticks file like Quotes.
func (d *Dataset) Ticks(sym string, recv ...int64) string {
	rows := make([]schema.Tick, len(recv))
	for i, r := range recv {
		rows[i] = schema.Tick{RecvTS: r, TS: r, ContractID: 1, ConnID: 1, TickID: int64(i), Price: 1, Size: 1, Source: schema.SourceLive}
	}
	p := d.Path(schema.TableTicks, sym, recv[0])
	WriteFile(d.tb, p, rows, 1000)
	return p
}

// Events writes one events file of sym; its partition date is that of the
// first row.
func (d *Dataset) Events(sym string, rows ...schema.Event) string {
	p := d.Path(schema.TableEvents, sym, rows[0].RecvTS)
	WriteFile(d.tb, p, rows, 1000)
	return p
}

// Every returns the Unix nanoseconds from base+a to base+b (inclusive)
// every step.
func Every(base time.Time, a, b, step time.Duration) []int64 {
	var out []int64
	for d := a; d <= b; d += step {
		out = append(out, base.Add(d).UnixNano())
	}
	return out
}

// Ev is an events row of kind for run at recv.
func Ev(kind, run string, recv int64) schema.Event {
	return schema.Event{RecvTS: recv, RunID: run, Kind: kind, ConnID: 1}
}

// Gap is a gap row.
func Gap(run, reason string, recv, start, end int64, detail string) schema.Event {
	return schema.Event{RecvTS: recv, RunID: run, Kind: schema.KindGap, GapStart: &start, GapEnd: &end, Reason: reason, ConnID: 1, Detail: detail}
}

// Heal is a heal row for the gap [start, end].
func Heal(run string, recv, start, end int64, detail string) schema.Event {
	return schema.Event{RecvTS: recv, RunID: run, Kind: schema.KindHeal, GapStart: &start, GapEnd: &end, ConnID: 1, Detail: detail}
}
