package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// writeLargeDataset writes rowsPerSymbol quotes (and a tenth as many DOM
// updates) for each of nsym symbols through storage.Dataset, the
// recorder's own writer, with 8 MiB files. Receive times advance by
// 50 µs–1 ms, so a symbol covers about an hour per 7 M rows.
func writeLargeDataset(tb testing.TB, nsym, rowsPerSymbol int) (root string, rows int64) {
	root = tb.TempDir()
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "bench", RollSize: 8 << 20, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	start := time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC).UnixNano()
	for s := 0; s < nsym; s++ {
		sym := fmt.Sprintf("B%02dZ6", s)
		t := start
		bid, ask, size := 5000.25, 5000.5, 12.0
		px := []*float64{&bid, &ask}
		for i := 0; i < rowsPerSymbol; i++ {
			t += int64(50*time.Microsecond) + rng.Int64N(int64(950*time.Microsecond))
			q := schema.Quote{RecvTS: t, TS: t - 300_000, ContractID: int64(s), BidPrice: &bid, BidSize: &size, AskPrice: &ask, AskSize: &size, ConnID: 1, Seq: int64(i + 1)}
			if err := ds.WriteQuote(sym, &q); err != nil {
				tb.Fatal(err)
			}
			rows++
			if i%10 == 0 {
				d := schema.DOM{RecvTS: t, TS: t, ContractID: int64(s), ConnID: 1, Seq: int64(i/10 + 1), BidPrices: px, BidSizes: px, AskPrices: px, AskSizes: px}
				if err := ds.WriteDOM(sym, &d); err != nil {
					tb.Fatal(err)
				}
				rows++
			}
		}
	}
	if err := ds.Close(); err != nil {
		tb.Fatal(err)
	}
	return root, rows
}

// BenchmarkScan measures the whole verify-gaps scan (listing, events,
// recv_ts of every data file, analysis) on one goroutine.
func BenchmarkScan(b *testing.B) {
	root, rows := writeLargeDataset(b, 4, 2_500_000)
	cfg := Config{Root: root, MaxGap: time.Minute, Silence: 5 * time.Second, Logger: zerolog.Nop()}
	var rep *Report
	var err error
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err = Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if rep.DataRows != rows {
		b.Fatalf("scanned %d rows, wrote %d", rep.DataRows, rows)
	}
	b.SetBytes(rep.Bytes)
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rep.Files), "files")
}
