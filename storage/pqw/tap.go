package pqw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/mdcap/mdcap/schema"
)

// A write-ahead journal can keep a writer's rows without copying them one
// by one: the pages a writer encodes are handed to its tap as they are cut
// (bytes already compressed), and at each sync Tail passes on the rows of
// the page being filled that the journal has not seen yet. Recovery turns
// a journaled page back into rows with DecodePage.

// Page is what one cut encoded: one page per column, all over the same
// rows. Skip of those rows had been passed on by Tail before the cut (a
// journal already holds them).
type Page struct {
	Rows int
	Skip int
	Cols []PageColumn
}

// PageColumn is one column's page: its header, levels and compressed
// values as written to the file, how many entries (levels) it holds and
// its uncompressed size, header included.
type PageColumn struct {
	Bytes        []byte
	Levels       int64
	Uncompressed int64
}

// RowVisitor takes rows of a table for a symbol. A row and what it points
// to are valid during the call only.
type RowVisitor interface {
	Quote(symbol string, r *schema.Quote)
	DOM(symbol string, r *schema.DOM)
	Tick(symbol string, r *schema.Tick)
	Event(symbol string, r *schema.Event)
}

// tap is a writer's journal hook and the rows of the page being filled
// already passed on.
type tap struct {
	fn    func(*Page)
	taken int      // rows of the page being filled passed on by Tail
	cur   []cursor // per column: where row taken starts
	page  Page
	// Per column, before a cut: its chunk's length, levels and
	// uncompressed bytes (the cut's pages are what it adds).
	from     []int
	lev, unc []int64
}

// cursor is where a row starts in a column's page buffers: its first
// entry (definition/repetition level) and its first value.
type cursor struct{ e, v int }

// SetTap has fn called with the pages of every cut from now on (on the
// goroutine using the writer, the Page and its bytes valid during the call
// only); nil removes it. The rows of the page being filled count as not
// passed on.
func (w *Writer) SetTap(fn func(*Page)) {
	w.tap.fn = fn
	w.tap.taken = 0
	w.tap.cur = w.tap.cur[:0]
}

// Untaken is the number of rows of the page being filled that Tail has
// not passed on.
func (w *Writer) Untaken() int { return w.prows - w.tap.taken }

// resetTap forgets the rows passed on: the page being filled is new.
func (w *Writer) resetTap() {
	w.tap.taken = 0
	w.tap.cur = w.tap.cur[:0]
}

// beforeCut notes where each column's chunk ends before a cut.
func (w *Writer) beforeCut() {
	t := &w.tap
	t.from, t.lev, t.unc = t.from[:0], t.lev[:0], t.unc[:0]
	for i := range w.cols {
		ch := &w.cols[i].chunk
		t.from = append(t.from, len(ch.pages))
		t.lev = append(t.lev, ch.levels)
		t.unc = append(t.unc, ch.uncompressed)
	}
}

// afterCut hands the pages the cut added to the columns' chunks to the
// tap, and starts the new page with nothing passed on.
func (w *Writer) afterCut(rows int) {
	t := &w.tap
	p := &t.page
	p.Rows, p.Skip = rows, t.taken
	p.Cols = p.Cols[:0]
	for i := range w.cols {
		ch := &w.cols[i].chunk
		p.Cols = append(p.Cols, PageColumn{Bytes: ch.pages[t.from[i]:],
			Levels: ch.levels - t.lev[i], Uncompressed: ch.uncompressed - t.unc[i]})
	}
	t.fn(p)
	clear(p.Cols) // no reference to the chunks kept
	w.resetTap()
}

// Tail passes the rows of the page being filled that were not passed on
// yet to v, in order, as rows of symbol; they count as passed on then.
func (w *Writer) Tail(symbol string, v RowVisitor) {
	if w.tap.taken >= w.prows {
		return
	}
	if len(w.tap.cur) != len(w.cols) {
		w.tap.cur = append(w.tap.cur[:0], make([]cursor, len(w.cols))...)
	}
	switch w.layout.table {
	case schema.TableQuotes:
		w.tailQuotes(symbol, v)
	case schema.TableDOM:
		w.tailDOM(symbol, v)
	case schema.TableTicks:
		w.tailTicks(symbol, v)
	case schema.TableEvents:
		w.tailEvents(symbol, v)
	}
}

// opt returns the next entry of an optional column (maximum definition
// level 1) at cursor k: nil for a NULL, else a pointer to its value in
// slot.
func (w *Writer) optF64(col int, slot *float64) *float64 {
	c, k := &w.cols[col], &w.tap.cur[col]
	d := c.def[k.e]
	k.e++
	if d == 0 {
		return nil
	}
	*slot = c.f64[k.v]
	k.v++
	return slot
}

func (w *Writer) optI64(col int, slot *int64) *int64 {
	c, k := &w.cols[col], &w.tap.cur[col]
	d := c.def[k.e]
	k.e++
	if d == 0 {
		return nil
	}
	*slot = c.i64[k.v]
	k.v++
	return slot
}

// list returns the next row's list of a LIST column at its cursor,
// pointing into vals (grown as needed; returned to be reused).
func (w *Writer) list(col int, dst []*float64, vals []float64) ([]*float64, []float64) {
	c, k := &w.cols[col], &w.tap.cur[col]
	dst, vals = dst[:0], vals[:0]
	if c.def[k.e] == 0 { // an empty list: one entry
		k.e++
		return dst, vals
	}
	end := k.e + 1
	for end < len(c.rep) && c.rep[end] != 0 {
		end++
	}
	n := end - k.e
	if cap(vals) < n {
		vals = make([]float64, 0, 2*n)
	}
	vals = vals[:n]
	for i := 0; i < n; i++ {
		if c.def[k.e+i] == 2 {
			vals[i] = c.f64[k.v]
			k.v++
			dst = append(dst, &vals[i])
		} else {
			dst = append(dst, nil)
		}
	}
	k.e = end
	return dst, vals
}

// str returns value r of a required BYTE_ARRAY column, copied.
func (w *Writer) str(col, r int) string {
	c := &w.cols[col]
	return string(c.str[c.offs[r]:c.offs[r+1]])
}

func (w *Writer) tailQuotes(symbol string, v RowVisitor) {
	c := w.cols
	var q schema.Quote
	var vals [12]float64
	for ; w.tap.taken < w.prows; w.tap.taken++ {
		r := w.tap.taken
		q = schema.Quote{RecvTS: c[0].i64[r], TS: c[1].i64[r], ContractID: c[2].i64[r],
			ConnID: c[15].i64[r], Seq: c[16].i64[r]}
		q.BidPrice = w.optF64(3, &vals[0])
		q.BidSize = w.optF64(4, &vals[1])
		q.AskPrice = w.optF64(5, &vals[2])
		q.AskSize = w.optF64(6, &vals[3])
		q.TradePrice = w.optF64(7, &vals[4])
		q.TradeSize = w.optF64(8, &vals[5])
		q.TotalVolume = w.optF64(9, &vals[6])
		q.OpenInterest = w.optF64(10, &vals[7])
		q.OpenPrice = w.optF64(11, &vals[8])
		q.HighPrice = w.optF64(12, &vals[9])
		q.LowPrice = w.optF64(13, &vals[10])
		q.SettlementPrice = w.optF64(14, &vals[11])
		v.Quote(symbol, &q)
	}
}

func (w *Writer) tailDOM(symbol string, v RowVisitor) {
	c := w.cols
	var d schema.DOM
	var lists [4][]*float64
	var vals [4][]float64
	for ; w.tap.taken < w.prows; w.tap.taken++ {
		r := w.tap.taken
		d = schema.DOM{RecvTS: c[0].i64[r], TS: c[1].i64[r], ContractID: c[2].i64[r],
			ConnID: c[3].i64[r], Seq: c[4].i64[r]}
		for k := 0; k < 4; k++ {
			lists[k], vals[k] = w.list(5+k, lists[k], vals[k])
		}
		d.BidPrices, d.BidSizes, d.AskPrices, d.AskSizes = lists[0], lists[1], lists[2], lists[3]
		v.DOM(symbol, &d)
	}
}

func (w *Writer) tailTicks(symbol string, v RowVisitor) {
	c := w.cols
	var t schema.Tick
	var vals [4]float64
	for ; w.tap.taken < w.prows; w.tap.taken++ {
		r := w.tap.taken
		t = schema.Tick{RecvTS: c[0].i64[r], TS: c[1].i64[r], ContractID: c[2].i64[r],
			ConnID: c[3].i64[r], TickID: c[4].i64[r], Price: c[5].f64[r], Size: c[6].f64[r]}
		t.BidPrice = w.optF64(7, &vals[0])
		t.AskPrice = w.optF64(8, &vals[1])
		t.BidSize = w.optF64(9, &vals[2])
		t.AskSize = w.optF64(10, &vals[3])
		t.Source = w.str(11, r)
		v.Tick(symbol, &t)
	}
}

func (w *Writer) tailEvents(symbol string, v RowVisitor) {
	c := w.cols
	var e schema.Event
	var gs, ge int64
	for ; w.tap.taken < w.prows; w.tap.taken++ {
		r := w.tap.taken
		e = schema.Event{RecvTS: c[0].i64[r], RunID: w.str(1, r), Kind: w.str(2, r),
			Reason: w.str(5, r), ConnID: c[6].i64[r], Detail: w.str(7, r)}
		e.GapStart = w.optI64(3, &gs)
		e.GapEnd = w.optI64(4, &ge)
		v.Event(symbol, &e)
	}
}

// layouts caches the tables' layouts for DecodePage.
var layouts struct {
	once sync.Once
	l    [schema.NumTables]*Layout
	err  error
}

func layoutOf(t schema.Table) (*Layout, error) {
	layouts.once.Do(func() {
		for i := schema.Table(0); i < schema.NumTables; i++ {
			if layouts.l[i], layouts.err = LayoutOf(i); layouts.err != nil {
				return
			}
		}
	})
	if layouts.err != nil {
		return nil, layouts.err
	}
	if t >= schema.NumTables {
		return nil, fmt.Errorf("pqw: unknown table %d", t)
	}
	return layouts.l[t], nil
}

// MaxPageRows bounds the rows of a page: an encoder cuts pages of at most
// this many rows, and DecodePage takes a larger count for damage.
const MaxPageRows = 1 << 16

// DecodePage passes the rows of a page of table t from row p.Skip on to v
// as rows of symbol, once all of them decoded (a damaged page passes
// none). The page is read back by parquet-go, from a file made of it
// alone. The rows passed are fresh: v may keep them.
func DecodePage(t schema.Table, symbol string, p *Page, v RowVisitor) error {
	l, err := layoutOf(t)
	if err != nil {
		return err
	}
	if p.Rows <= 0 || p.Rows > MaxPageRows || p.Skip < 0 || p.Skip > p.Rows {
		return fmt.Errorf("pqw: decode page: %d rows, %d to skip", p.Rows, p.Skip)
	}
	if len(p.Cols) != len(l.leaves) {
		return fmt.Errorf("pqw: decode page of %s: %d columns, want %d", t, len(p.Cols), len(l.leaves))
	}
	for i := range p.Cols {
		if err := checkPage(&p.Cols[i], p.Rows); err != nil {
			return fmt.Errorf("pqw: decode page of %s, column %d: %w", t, i, err)
		}
	}
	file, err := pageFile(l, p)
	if err != nil {
		return err
	}
	switch t {
	case schema.TableQuotes:
		return readPage(file, p, func(r *schema.Quote) { v.Quote(symbol, r) })
	case schema.TableDOM:
		return readPage(file, p, func(r *schema.DOM) { v.DOM(symbol, r) })
	case schema.TableTicks:
		return readPage(file, p, func(r *schema.Tick) { v.Tick(symbol, r) })
	default:
		return readPage(file, p, func(r *schema.Event) { v.Event(symbol, r) })
	}
}

// MaxPageLevels and maxPageBytes bound what a page column DecodePage
// takes may hold (a cut page holds about DefaultPageBytes of rows): a
// page claiming more is damage, not a reason to allocate it.
const (
	MaxPageLevels = 1 << 21
	maxPageBytes  = 1 << 26
)

// checkPage checks that a page column is one V2 data page whose header
// agrees with the sizes and counts given, before parquet-go reads it.
func checkPage(pc *PageColumn, rows int) error {
	if pc.Levels < int64(rows) || pc.Levels > MaxPageLevels || pc.Uncompressed > maxPageBytes || len(pc.Bytes) > maxPageBytes {
		return fmt.Errorf("%d levels, %d bytes (%d uncompressed) for %d rows", pc.Levels, len(pc.Bytes), pc.Uncompressed, rows)
	}
	var h format.PageHeader
	r := new(thrift.CompactProtocol).NewReaderFromBytes(pc.Bytes)
	if err := thrift.NewDecoder(r).Decode(&h); err != nil {
		return fmt.Errorf("page header: %w", err)
	}
	hlen := r.BytesRead()
	v2, ok := h.DataPageHeaderV2.Get()
	switch {
	case h.Type != format.DataPageV2 || !ok:
		return fmt.Errorf("page of type %v, want a V2 data page", h.Type)
	case int(h.CompressedPageSize) != len(pc.Bytes)-hlen:
		return fmt.Errorf("page of %d bytes, its header says %d", len(pc.Bytes)-hlen, h.CompressedPageSize)
	case h.UncompressedPageSize < 0 || int64(h.UncompressedPageSize)+int64(hlen) != pc.Uncompressed:
		return fmt.Errorf("uncompressed size %d, its header says %d", pc.Uncompressed, int64(h.UncompressedPageSize)+int64(hlen))
	case int64(v2.NumValues) != pc.Levels || int(v2.NumRows) != rows || v2.NumNulls < 0 || v2.NumNulls > v2.NumValues:
		return fmt.Errorf("header of %d values, %d rows, %d nulls; want %d values, %d rows", v2.NumValues, v2.NumRows, v2.NumNulls, pc.Levels, rows)
	case v2.DefinitionLevelsByteLength < 0 || v2.RepetitionLevelsByteLength < 0 ||
		int64(v2.DefinitionLevelsByteLength)+int64(v2.RepetitionLevelsByteLength) > int64(h.CompressedPageSize):
		return fmt.Errorf("levels of %d+%d bytes in a page of %d", v2.DefinitionLevelsByteLength, v2.RepetitionLevelsByteLength, h.CompressedPageSize)
	}
	return nil
}

// pageFile is a Parquet file of one row group made of p's pages.
func pageFile(l *Layout, p *Page) ([]byte, error) {
	b := []byte(magic)
	rg := format.RowGroup{Columns: make([]format.ColumnChunk, len(p.Cols)), NumRows: int64(p.Rows),
		FileOffset: int64(len(magic))}
	for i, pc := range p.Cols {
		lf := &l.leaves[i]
		rg.Columns[i].MetaData = format.ColumnMetaData{
			Type: lf.typ, Encoding: lf.encs, PathInSchema: lf.path, Codec: format.Zstd,
			NumValues: pc.Levels, TotalUncompressedSize: pc.Uncompressed,
			TotalCompressedSize: int64(len(pc.Bytes)), DataPageOffset: int64(len(b)),
		}
		rg.TotalByteSize += pc.Uncompressed
		rg.TotalCompressedSize += int64(len(pc.Bytes))
		b = append(b, pc.Bytes...)
	}
	md := format.FileMetaData{Version: 2, Schema: l.elements, NumRows: int64(p.Rows),
		RowGroups: []format.RowGroup{rg}, ColumnOrders: l.orders}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		return nil, fmt.Errorf("pqw: decode page: footer: %w", err)
	}
	b = append(b, footer...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
	return append(b, magic...), nil
}

func readPage[T any](file []byte, p *Page, fn func(*T)) (err error) {
	defer func() {
		// A page that passed its checksum but does not decode is damage,
		// not a reason to stop: parquet-go may panic on some of it.
		if x := recover(); x != nil {
			err = fmt.Errorf("pqw: decode page: %v", x)
		}
	}()
	r := parquet.NewGenericReader[T](bytes.NewReader(file))
	defer r.Close()
	// Every row is read before any is passed on: a page is taken whole or
	// not at all.
	rows := make([]T, p.Rows+1)
	n := 0
	for n < len(rows) {
		k, err := r.Read(rows[n:])
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("pqw: decode page: %w", err)
		}
		if k == 0 {
			break
		}
	}
	if n != p.Rows {
		return fmt.Errorf("pqw: decode page: %d rows read, want %d", n, p.Rows)
	}
	for i := p.Skip; i < p.Rows; i++ {
		fn(&rows[i])
	}
	return nil
}
