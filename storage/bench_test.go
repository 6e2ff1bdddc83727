package storage

import (
	"testing"

	"github.com/mdcap/mdcap/schema"
)

// The writer benchmarks: realistic quote and 10-level DOM rows (random
// walk on a 0.25 tick, sizes, growing volume) into one partition with the
// default row-group size. Reported: rows/s, bytes/row (finished file
// bytes), allocs/op (per row).

func benchConfig(b *testing.B) Config {
	cfg := testConfig(b)
	cfg.RowGroupRows = DefaultRowGroupRows
	return cfg
}

func BenchmarkWriteQuote(b *testing.B) {
	cfg := benchConfig(b)
	d := openDS(b, cfg)
	g := newQuoteGen(42)
	// 64 Ki distinct rows: more than a row group, so compression sees no
	// repetition inside one.
	rows := make([]schema.Quote, 1<<16)
	for i := range rows {
		g.next(&rows[i], false)
	}
	// keep time moving forward past the pre-generated block
	span := rows[len(rows)-1].RecvTS - rows[0].RecvTS + 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &rows[i%len(rows)]
		if i > 0 && i%len(rows) == 0 {
			for k := range rows {
				rows[k].RecvTS += span
				rows[k].TS += span
				rows[k].Seq += int64(len(rows))
			}
		}
		if err := d.WriteQuote("ESZ6", r); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	report(b, d)
}

func BenchmarkWriteDOM(b *testing.B) {
	cfg := benchConfig(b)
	d := openDS(b, cfg)
	g := newDOMGen(42)
	rows := make([]schema.DOM, 1<<15)
	for i := range rows {
		g.next(&rows[i], false)
		rows[i].BidPrices, rows[i].BidSizes = deepList(rows[i].BidPrices), deepList(rows[i].BidSizes)
		rows[i].AskPrices, rows[i].AskSizes = deepList(rows[i].AskPrices), deepList(rows[i].AskSizes)
	}
	span := rows[len(rows)-1].RecvTS - rows[0].RecvTS + 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &rows[i%len(rows)]
		if i > 0 && i%len(rows) == 0 {
			for k := range rows {
				rows[k].RecvTS += span
				rows[k].TS += span
				rows[k].Seq += int64(len(rows))
			}
		}
		if err := d.WriteDOM("ESZ6", r); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	report(b, d)
}

func report(b *testing.B, d *Dataset) {
	s := d.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(s.BytesFinalised)/float64(b.N), "bytes/row")
}
