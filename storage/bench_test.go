package storage

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

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
	cpu0 := cpuTime()
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
	report(b, d, cpu0)
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
	cpu0 := cpuTime()
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
	report(b, d, cpu0)
}

func report(b *testing.B, d *Dataset, cpu0 time.Duration) {
	s := d.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	// On a shared machine wall time depends on the neighbours; the
	// process's CPU time (user+system, GC included) does not.
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(s.BytesFinalised)/float64(b.N), "bytes/row")
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// plainQuote is schema.Quote without the encoding tags: parquet-go's
// defaults (PLAIN values, RLE levels), to measure what delta and
// byte-stream-split encodings buy.
type plainQuote struct {
	RecvTS          int64    `parquet:"recv_ts,timestamp(nanosecond:utc)"`
	TS              int64    `parquet:"ts,timestamp(nanosecond:utc)"`
	ContractID      int64    `parquet:"contract_id"`
	BidPrice        *float64 `parquet:"bid_price,optional"`
	BidSize         *float64 `parquet:"bid_size,optional"`
	AskPrice        *float64 `parquet:"ask_price,optional"`
	AskSize         *float64 `parquet:"ask_size,optional"`
	TradePrice      *float64 `parquet:"trade_price,optional"`
	TradeSize       *float64 `parquet:"trade_size,optional"`
	TotalVolume     *float64 `parquet:"total_volume,optional"`
	OpenInterest    *float64 `parquet:"open_interest,optional"`
	OpenPrice       *float64 `parquet:"open_price,optional"`
	HighPrice       *float64 `parquet:"high_price,optional"`
	LowPrice        *float64 `parquet:"low_price,optional"`
	SettlementPrice *float64 `parquet:"settlement_price,optional"`
	ConnID          int64    `parquet:"conn_id"`
	Seq             int64    `parquet:"seq"`
}

// BenchmarkEncodings writes the same quote rows with parquet-go directly
// (no Dataset): the contract's encodings against parquet-go's defaults,
// each with and without a bounded row group.
func BenchmarkEncodings(b *testing.B) {
	g := newQuoteGen(42)
	src := make([]schema.Quote, 1<<16)
	for i := range src {
		g.next(&src[i], false)
	}
	plain := make([]plainQuote, len(src))
	for i, q := range src {
		plain[i] = plainQuote(q)
	}
	run := func(b *testing.B, opts []parquet.WriterOption, write func(w io.Writer, opts []parquet.WriterOption, n int) error) {
		var cw countWriter
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		if err := write(&cw, opts, b.N); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
		b.ReportMetric(float64(cw.n)/float64(b.N), "bytes/row")
	}
	writeOf := func(rows any) func(w io.Writer, opts []parquet.WriterOption, n int) error {
		return func(w io.Writer, opts []parquet.WriterOption, n int) error {
			switch rs := rows.(type) {
			case []schema.Quote:
				return writeN(parquet.NewGenericWriter[schema.Quote](w, opts...), rs, n)
			case []plainQuote:
				return writeN(parquet.NewGenericWriter[plainQuote](w, opts...), rs, n)
			}
			return nil
		}
	}
	zstdOpt := parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest})
	bounded := parquet.MaxRowsPerRowGroup(DefaultRowGroupRows)
	b.Run("plain/unbounded", func(b *testing.B) { run(b, []parquet.WriterOption{zstdOpt}, writeOf(plain)) })
	b.Run("plain/bounded", func(b *testing.B) { run(b, []parquet.WriterOption{zstdOpt, bounded}, writeOf(plain)) })
	b.Run("tuned/unbounded", func(b *testing.B) { run(b, []parquet.WriterOption{zstdOpt}, writeOf(src)) })
	b.Run("tuned/bounded", func(b *testing.B) { run(b, []parquet.WriterOption{zstdOpt, bounded}, writeOf(src)) })
}

func writeN[T any](w *parquet.GenericWriter[T], src []T, n int) error {
	for i := 0; i < n; i += batchRows {
		k := i % len(src)
		m := min(batchRows, n-i)
		if _, err := w.Write(src[k : k+m]); err != nil {
			return err
		}
	}
	return w.Close()
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkOpenFileMemory measures the heap an open (partition) file
// holds after a few rows (512 per file: below the default budget, so
// they are all still buffered), which times MaxOpenFiles bounds the
// writer's memory for many symbols. See also BenchmarkManyOpenFiles.
func BenchmarkOpenFileMemory(b *testing.B) {
	for _, table := range []schema.Table{schema.TableQuotes, schema.TableDOM} {
		b.Run(table.String(), func(b *testing.B) {
			const files = 200
			var perFile float64
			for it := 0; it < b.N; it++ {
				cfg := benchConfig(b)
				cfg.MaxOpenFiles = files
				d := openDS(b, cfg)
				qg, dg := newQuoteGen(1), newDOMGen(1)
				var q schema.Quote
				var dm schema.DOM
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for s := 0; s < files; s++ {
					sym := fmt.Sprintf("S%03d", s)
					for i := 0; i < 2*batchRows; i++ { // two batches reach the parquet writer
						if table == schema.TableQuotes {
							qg.next(&q, true)
							if err := d.WriteQuote(sym, &q); err != nil {
								b.Fatal(err)
							}
						} else {
							dg.next(&dm, true)
							if err := d.WriteDOM(sym, &dm); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perFile = float64(after.HeapInuse-before.HeapInuse) / files
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perFile, "heap-bytes/open-file")
		})
	}
}

// BenchmarkManyOpenFiles opens 2000 files at once, as 500 symbols with
// quotes, DOM, ticks and events do, writes rowsPerFile rows into each,
// and reports the heap per open file (in use after a GC, before Close).
// With rowsPerFile 1 it is the fixed cost of an
// open file; with 1000, the rows outgrow the default 64 MiB budget and
// the largest files write their row groups early.
func BenchmarkManyOpenFiles(b *testing.B) {
	for _, rowsPerFile := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(rowsPerFile), func(b *testing.B) {
			const syms = 500
			var perFile, live, shed, quoteBytes, domBytes, counted, held float64
			b.ReportAllocs()
			for it := 0; it < b.N; it++ {
				cfg := benchConfig(b)
				cfg.MaxOpenFiles = 4 * syms
				d := openDS(b, cfg)
				qg, dg := newQuoteGen(1), newDOMGen(1)
				var q schema.Quote
				var dm schema.DOM
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := 0; i < rowsPerFile; i++ {
					for s := 0; s < syms; s++ {
						sym := fmt.Sprintf("S%03d", s)
						qg.next(&q, true)
						dg.next(&dm, true)
						tr, er := tickRow(i), eventRow(i)
						for _, err := range []error{d.WriteQuote(sym, &q), d.WriteDOM(sym, &dm), d.WriteTick(sym, &tr), d.WriteEvent(sym, &er)} {
							if err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if n := d.Stats().FilesOpen; n != 4*syms {
					b.Fatalf("%d files open", n)
				}
				perFile = float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / (4 * syms)
				live = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (4 * syms)
				shed = float64(d.Stats().RowGroupsShed)
				counted = float64(d.Stats().BufferedBytes) / (4 * syms)
				var mem int
				for pf := d.head; pf != nil; pf = pf.next {
					mem += pf.sink.MemBytes()
				}
				held = float64(mem) / (4 * syms)
				b.StopTimer() // finalising 2000 files is fsync-bound
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				st := d.Stats()
				quoteBytes = float64(bytesOf(b, cfg.Root, "quotes")) / float64(st.RowsWritten[schema.TableQuotes])
				domBytes = float64(bytesOf(b, cfg.Root, "dom")) / float64(st.RowsWritten[schema.TableDOM])
			}
			b.ReportMetric(perFile, "heap-bytes/open-file")
			b.ReportMetric(shed, "row-groups-shed")
			b.ReportMetric(counted, "budget-bytes/open-file")
			b.ReportMetric(live, "live-bytes/open-file")
			b.ReportMetric(held, "buffer-bytes/open-file")
			b.ReportMetric(quoteBytes, "bytes/quote")
			b.ReportMetric(domBytes, "bytes/dom")
		})
	}
}

// BenchmarkParquetGoQuote and BenchmarkParquetGoDOM write the rows of
// BenchmarkWriteQuote and BenchmarkWriteDOM the way storage did before
// pqw (parquet-go's GenericWriter, 256-row batches, 64 KiB pages, zstd
// fastest, the same row-group size) into a byte counter: the reference
// the pqw figures compare with.
func BenchmarkParquetGoQuote(b *testing.B) {
	g := newQuoteGen(42)
	rows := make([]schema.Quote, 1<<16)
	for i := range rows {
		g.next(&rows[i], false)
	}
	benchParquetGo(b, rows)
}

func BenchmarkParquetGoDOM(b *testing.B) {
	g := newDOMGen(42)
	rows := make([]schema.DOM, 1<<15)
	for i := range rows {
		g.next(&rows[i], false)
		rows[i].BidPrices, rows[i].BidSizes = deepList(rows[i].BidPrices), deepList(rows[i].BidSizes)
		rows[i].AskPrices, rows[i].AskSizes = deepList(rows[i].AskPrices), deepList(rows[i].AskSizes)
	}
	benchParquetGo(b, rows)
}

func benchParquetGo[T any](b *testing.B, rows []T) {
	var cw countWriter
	w := parquet.NewGenericWriter[T](&cw,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.PageBufferSize(64<<10),
		parquet.MaxRowsPerRowGroup(DefaultRowGroupRows),
	)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	if err := writeN(w, rows, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(cw.n)/float64(b.N), "bytes/row")
}

// bytesOf is the size of a table's finished files.
func bytesOf(b *testing.B, root, table string) int64 {
	var n int64
	for _, f := range parquetFiles(b, root, table) {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// syncCountFS counts the folder fsyncs of the OS file system.
type syncCountFS struct {
	OSFS
	dirSyncs int
}

func (f *syncCountFS) SyncDir(dir string) error {
	f.dirSyncs++
	return f.OSFS.SyncDir(dir)
}

// BenchmarkOpenPartitions opens the files of 500 symbols x 3 tables at
// once, as the first second of a 500-symbol recording (or a midnight
// roll) does, one row each, and reports the writer's time per open file
// and the folder fsyncs made before any file is finalised: the stall the
// capture queue must absorb. It also reports the time per file of
// finalising them all at once (Close; a roll of every file does the same
// work).
func BenchmarkOpenPartitions(b *testing.B) {
	const syms = 500
	var perFile, syncs, finalise float64
	for it := 0; it < b.N; it++ {
		cfg := benchConfig(b)
		cfg.MaxOpenFiles = 4 * syms
		fsys := &syncCountFS{}
		cfg.FS = fsys
		d := openDS(b, cfg)
		qg, dg := newQuoteGen(1), newDOMGen(1)
		var q schema.Quote
		var dm schema.DOM
		names := make([]string, syms)
		for s := range names {
			names[s] = fmt.Sprintf("S%03d", s)
		}
		start := time.Now()
		for s := 0; s < syms; s++ {
			qg.next(&q, true)
			dg.next(&dm, true)
			er := eventRow(s)
			for _, err := range []error{d.WriteQuote(names[s], &q), d.WriteDOM(names[s], &dm), d.WriteEvent(names[s], &er)} {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		perFile = float64(time.Since(start).Nanoseconds()) / (3 * syms)
		syncs = float64(fsys.dirSyncs)
		b.StopTimer()
		start = time.Now()
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		finalise = float64(time.Since(start).Nanoseconds()) / (3 * syms)
		b.StartTimer()
	}
	b.ReportMetric(perFile, "ns/open-file")
	b.ReportMetric(finalise, "ns/finalise")
	b.ReportMetric(syncs, "dir-fsyncs-before-finalise")
}
