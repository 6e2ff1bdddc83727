package storage

import (
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/mdcap/mdcap/schema"
)

// batchRows is how many rows a file collects before handing them to the
// parquet writer in one call (which amortises its per-call cost).
const batchRows = 256

// rowSink is the typed half of an open file: a batch of copied rows in
// front of a parquet writer.
type rowSink interface {
	flush() error // hand the batch to the parquet writer
	size() int64  // parquet-go's upper bound of the file size so far
	close() error // flush, then write the footer
	reset(w io.Writer)
	buffered() int
}

// arena holds the values that copied rows point to, so that copying a row
// with nullable fields or lists allocates nothing in the steady state.
// Growing a slice leaves earlier pointers on the old array, which keeps
// its values: pointers stay valid until reset.
type arena struct {
	f64 []float64
	ptr []*float64
	i64 []int64
}

func (a *arena) reset() {
	a.f64, a.ptr, a.i64 = a.f64[:0], a.ptr[:0], a.i64[:0]
}

func (a *arena) float(p *float64) *float64 {
	if p == nil {
		return nil
	}
	a.f64 = append(a.f64, *p)
	return &a.f64[len(a.f64)-1]
}

func (a *arena) int(p *int64) *int64 {
	if p == nil {
		return nil
	}
	a.i64 = append(a.i64, *p)
	return &a.i64[len(a.i64)-1]
}

func (a *arena) list(src []*float64) []*float64 {
	if len(src) == 0 {
		return nil
	}
	start := len(a.ptr)
	for _, p := range src {
		a.ptr = append(a.ptr, a.float(p))
	}
	return a.ptr[start:len(a.ptr):len(a.ptr)]
}

// sink is a rowSink for the row type T.
type sink[T any] struct {
	pw    *parquet.GenericWriter[T]
	batch []T
	arena arena
	copy  func(dst, src *T, a *arena)
}

func (s *sink[T]) add(r *T) {
	n := len(s.batch)
	if n < cap(s.batch) {
		s.batch = s.batch[:n+1]
	} else {
		var zero T
		s.batch = append(s.batch, zero)
	}
	s.copy(&s.batch[n], r, &s.arena)
}

func (s *sink[T]) full() bool { return len(s.batch) >= batchRows }

func (s *sink[T]) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	_, err := s.pw.Write(s.batch)
	clear(s.batch) // drop pointers into the arena before it is reused
	s.batch = s.batch[:0]
	s.arena.reset()
	return err
}

func (s *sink[T]) size() int64 { return s.pw.Size() }

func (s *sink[T]) close() error {
	if err := s.flush(); err != nil {
		return err
	}
	return s.pw.Close()
}

func (s *sink[T]) reset(w io.Writer) {
	clear(s.batch)
	s.batch = s.batch[:0]
	s.arena.reset()
	s.pw.Reset(w)
}

func (s *sink[T]) buffered() int { return len(s.batch) }

// pageBufferSize is the uncompressed size at which a column's page is
// written out. parquet-go preallocates it for every required column of
// every open file, so it sets most of an open file's memory. Measured on
// the benchmark's quotes: 256 KiB (parquet-go's default) 1.6 MB per open
// file (with a codec per file) and 8.75 bytes/row; 64 KiB 0.63 MB and 9.3
// bytes/row; 32 KiB 9.75 bytes/row (BenchmarkOpenFileMemory,
// BenchmarkWriteQuote).
const pageBufferSize = 64 << 10

// newCodec is the zstd codec of a Dataset, shared by all its files: a
// codec pools its encoders (about 0.5 MiB each), so one per file would
// cost that much per open file.
func newCodec() *zstd.Codec { return &zstd.Codec{Level: zstd.SpeedFastest} }

func newSinkOf[T any](w io.Writer, cfg *Config, codec *zstd.Codec, t schema.Table, cp func(dst, src *T, a *arena)) *sink[T] {
	pw := parquet.NewGenericWriter[T](w,
		parquet.Compression(codec),
		parquet.PageBufferSize(pageBufferSize),
		parquet.MaxRowsPerRowGroup(int64(cfg.RowGroupRows)),
		parquet.CreatedBy("mdcap", "", ""),
		parquet.KeyValueMetadata("mdcap.table", t.String()),
		parquet.KeyValueMetadata("mdcap.writer_id", cfg.WriterID),
		parquet.KeyValueMetadata("mdcap.run_id", cfg.RunID),
	)
	return &sink[T]{pw: pw, batch: make([]T, 0, batchRows), copy: cp}
}

// newSink builds the sink of a table, writing to w.
func newSink(t schema.Table, w io.Writer, cfg *Config, codec *zstd.Codec) rowSink {
	switch t {
	case schema.TableQuotes:
		return newSinkOf(w, cfg, codec, t, copyQuote)
	case schema.TableDOM:
		return newSinkOf(w, cfg, codec, t, copyDOM)
	case schema.TableTicks:
		return newSinkOf(w, cfg, codec, t, copyTick)
	default:
		return newSinkOf(w, cfg, codec, t, copyEvent)
	}
}

func copyQuote(d, s *schema.Quote, a *arena) {
	*d = *s
	d.BidPrice = a.float(s.BidPrice)
	d.BidSize = a.float(s.BidSize)
	d.AskPrice = a.float(s.AskPrice)
	d.AskSize = a.float(s.AskSize)
	d.TradePrice = a.float(s.TradePrice)
	d.TradeSize = a.float(s.TradeSize)
	d.TotalVolume = a.float(s.TotalVolume)
	d.OpenInterest = a.float(s.OpenInterest)
	d.OpenPrice = a.float(s.OpenPrice)
	d.HighPrice = a.float(s.HighPrice)
	d.LowPrice = a.float(s.LowPrice)
	d.SettlementPrice = a.float(s.SettlementPrice)
}

func copyDOM(d, s *schema.DOM, a *arena) {
	*d = *s
	d.BidPrices = a.list(s.BidPrices)
	d.BidSizes = a.list(s.BidSizes)
	d.AskPrices = a.list(s.AskPrices)
	d.AskSizes = a.list(s.AskSizes)
}

func copyTick(d, s *schema.Tick, a *arena) {
	*d = *s
	d.BidPrice = a.float(s.BidPrice)
	d.AskPrice = a.float(s.AskPrice)
	d.BidSize = a.float(s.BidSize)
	d.AskSize = a.float(s.AskSize)
}

func copyEvent(d, s *schema.Event, a *arena) {
	*d = *s
	d.GapStart = a.int(s.GapStart)
	d.GapEnd = a.int(s.GapEnd)
}
