package pqw

import (
	"fmt"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/bytestreamsplit"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/plain"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/mdcap/mdcap/schema"
)

// A write-ahead journal can keep a writer's rows without copying them one
// by one: the pages a writer encodes are handed to its tap as they are cut
// (bytes already compressed), and at each sync Tail passes on the rows of
// the page being filled that the journal has not seen yet. Recovery turns
// a journaled page back into rows with a PageDecoder.

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

// optF64 and optI64 return the next entry of an optional column (maximum
// definition level 1) at its cursor: nil for a NULL, else a pointer to
// its value in slot.
func (w *Writer) optF64(col int, slot *float64) *float64 {
	c := &w.cols[col]
	return optAt(c.def, c.f64, &w.tap.cur[col], slot)
}

func (w *Writer) optI64(col int, slot *int64) *int64 {
	c := &w.cols[col]
	return optAt(c.def, c.i64, &w.tap.cur[col], slot)
}

func optAt[T any](def []uint8, vals []T, k *cursor, slot *T) *T {
	d := def[k.e]
	k.e++
	if d == 0 {
		return nil
	}
	*slot = vals[k.v]
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

// PageDecoder turns journaled pages back into rows (Decode). It keeps
// the tables' layouts and a zstd decoder whose memory is bounded by
// maxPageBytes; it is not safe for concurrent use, and Close releases it.
type PageDecoder struct {
	layouts [schema.NumTables]*Layout
	z       *zstd.Decoder
}

// NewPageDecoder returns a page decoder.
func NewPageDecoder() (*PageDecoder, error) {
	d := &PageDecoder{}
	for t := schema.Table(0); t < schema.NumTables; t++ {
		l, err := LayoutOf(t)
		if err != nil {
			return nil, err
		}
		d.layouts[t] = l
	}
	z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPageBytes))
	if err != nil {
		return nil, fmt.Errorf("pqw: zstd decoder: %w", err)
	}
	d.z = z
	return d, nil
}

// Close releases the decoder's resources.
func (d *PageDecoder) Close() { d.z.Close() }

// MaxPageRows bounds the rows of a page: an encoder cuts pages of at most
// this many rows, and a PageDecoder takes a larger count for damage.
const MaxPageRows = 1 << 16

// Decode passes the rows of a page of table t from row p.Skip on to v
// as rows of symbol (each valid during its call only). The page is
// checked whole first — its headers against p, its levels against the
// schema, its values against its levels — so a damaged page passes no
// row and returns an error. It decodes with the encodings the writer
// used (parquet-go's encoding packages, klauspost's zstd) into column
// buffers and reads the rows out as Tail does.
func (d *PageDecoder) Decode(t schema.Table, symbol string, p *Page, v RowVisitor) (err error) {
	if t >= schema.NumTables {
		return fmt.Errorf("pqw: decode page: unknown table %d", t)
	}
	l := d.layouts[t]
	if p.Rows <= 0 || p.Rows > MaxPageRows || p.Skip < 0 || p.Skip > p.Rows {
		return fmt.Errorf("pqw: decode page: %d rows, %d to skip", p.Rows, p.Skip)
	}
	if len(p.Cols) != len(l.leaves) {
		return fmt.Errorf("pqw: decode page of %s: %d columns, want %d", t, len(p.Cols), len(l.leaves))
	}
	w := &Writer{layout: l, cols: make([]column, len(l.leaves)), prows: p.Rows}
	for i := range p.Cols {
		w.cols[i].leaf = &l.leaves[i]
		if err := restoreColumn(&w.cols[i], &p.Cols[i], p.Rows, d.z); err != nil {
			return fmt.Errorf("pqw: decode page of %s, column %s: %w", t, strings.Join(l.leaves[i].path, "."), err)
		}
	}
	defer func() {
		// The checks above make the read-out safe; should one be missing,
		// a damaged page is still an error, not a crash.
		if x := recover(); x != nil {
			err = fmt.Errorf("pqw: decode page of %s: %v", t, x)
		}
	}()
	w.Tail(symbol, &skipRows{v: v, skip: p.Skip})
	return nil
}

// skipRows passes rows on to v past the first skip.
type skipRows struct {
	v    RowVisitor
	skip int
}

func (s *skipRows) pass() bool {
	if s.skip > 0 {
		s.skip--
		return false
	}
	return true
}

func (s *skipRows) Quote(sym string, r *schema.Quote) {
	if s.pass() {
		s.v.Quote(sym, r)
	}
}

func (s *skipRows) DOM(sym string, r *schema.DOM) {
	if s.pass() {
		s.v.DOM(sym, r)
	}
}

func (s *skipRows) Tick(sym string, r *schema.Tick) {
	if s.pass() {
		s.v.Tick(sym, r)
	}
}

func (s *skipRows) Event(sym string, r *schema.Event) {
	if s.pass() {
		s.v.Event(sym, r)
	}
}

// restoreColumn decodes one column's page into c's page buffers, as
// the Append methods would have left them for its rows, checking that
// the levels and values make exactly rows rows of the column's shape.
func restoreColumn(c *column, pc *PageColumn, rows int, dec *zstd.Decoder) error {
	h, hlen, err := checkPage(pc, rows)
	if err != nil {
		return err
	}
	v2, _ := h.DataPageHeaderV2.Get()
	lf := c.leaf
	body := pc.Bytes[hlen:]
	repLen, defLen := int(v2.RepetitionLevelsByteLength), int(v2.DefinitionLevelsByteLength)
	n := int(v2.NumValues)
	levels := func(src []byte, max uint8) ([]uint8, error) {
		enc := rle.Encoding{BitWidth: bitWidth(max)}
		out, err := enc.DecodeLevels(nil, src)
		if err != nil {
			return nil, err
		}
		if len(out) < n {
			return nil, fmt.Errorf("%d levels, want %d", len(out), n)
		}
		out = out[:n]
		for _, x := range out {
			if x > max {
				return nil, fmt.Errorf("level %d over the maximum %d", x, max)
			}
		}
		return out, nil
	}
	if lf.maxRep > 0 {
		if c.rep, err = levels(body[:repLen], lf.maxRep); err != nil {
			return fmt.Errorf("repetition levels: %w", err)
		}
	} else if repLen != 0 {
		return fmt.Errorf("repetition levels in a column without them")
	}
	if lf.maxDef > 0 {
		if c.def, err = levels(body[repLen:repLen+defLen], lf.maxDef); err != nil {
			return fmt.Errorf("definition levels: %w", err)
		}
	} else if defLen != 0 {
		return fmt.Errorf("definition levels in a required column")
	}
	values, err := shapeOf(c, n, rows)
	if err != nil {
		return err
	}
	want := int(h.UncompressedPageSize) - repLen - defLen
	compressed, ok := v2.IsCompressed.Get()
	raw := body[repLen+defLen:]
	if !ok || compressed {
		if raw, err = dec.DecodeAll(raw, make([]byte, 0, want)); err != nil {
			return fmt.Errorf("values: %w", err)
		}
	}
	if len(raw) != want {
		return fmt.Errorf("%d bytes of values, the header says %d", len(raw), want)
	}
	var got int
	switch {
	case lf.typ == format.Int64 && lf.enc == format.DeltaBinaryPacked:
		c.i64, err = new(delta.BinaryPackedEncoding).DecodeInt64(nil, raw)
		got = len(c.i64)
	case lf.typ == format.Int64:
		c.i64, err = new(plain.Encoding).DecodeInt64(nil, raw)
		got = len(c.i64)
	case lf.typ == format.Double && lf.enc == format.ByteStreamSplit:
		c.f64, err = new(bytestreamsplit.Encoding).DecodeDouble(nil, raw)
		got = len(c.f64)
	case lf.typ == format.Double:
		c.f64, err = new(plain.Encoding).DecodeDouble(nil, raw)
		got = len(c.f64)
	case lf.typ == format.ByteArray:
		c.str, c.offs, err = new(plain.Encoding).DecodeByteArray(nil, raw, nil)
		got = max(len(c.offs)-1, 0)
	default:
		return fmt.Errorf("column of type %v", lf.typ)
	}
	if err != nil {
		return fmt.Errorf("values: %w", err)
	}
	if got != values {
		return fmt.Errorf("%d values, the levels say %d", got, values)
	}
	c.n = n
	return nil
}

// shapeOf checks that n levels make rows rows of the column's shape
// (required, optional, or a LIST of optional doubles as list appends
// them) and returns how many values they hold.
func shapeOf(c *column, n, rows int) (int, error) {
	lf := c.leaf
	switch {
	case lf.maxRep == 0 && lf.maxDef == 0:
		if n != rows {
			return 0, fmt.Errorf("%d entries for %d rows", n, rows)
		}
		return n, nil
	case lf.maxRep == 0:
		if n != rows {
			return 0, fmt.Errorf("%d entries for %d rows", n, rows)
		}
		values := 0
		for _, d := range c.def {
			if d == lf.maxDef {
				values++
			}
		}
		return values, nil
	}
	starts, values := 0, 0
	for i := 0; i < n; i++ {
		if c.rep[i] == 0 {
			starts++
		} else if i == 0 || c.def[i-1] == 0 {
			return 0, fmt.Errorf("entry %d continues an empty list or none", i)
		}
		switch c.def[i] {
		case 0:
			if c.rep[i] != 0 {
				return 0, fmt.Errorf("entry %d: an empty list inside a list", i)
			}
		case lf.maxDef:
			values++
		}
	}
	if starts != rows {
		return 0, fmt.Errorf("%d lists for %d rows", starts, rows)
	}
	return values, nil
}

// MaxPageLevels and maxPageBytes bound what a page column a PageDecoder
// takes may hold (a cut page holds about DefaultPageBytes of rows): a
// page claiming more is damage, not a reason to allocate it.
const (
	MaxPageLevels = 1 << 21
	maxPageBytes  = 1 << 26
)

// checkPage checks that a page column is one V2 data page whose header
// agrees with the sizes and counts given, before parquet-go reads it.
func checkPage(pc *PageColumn, rows int) (format.PageHeader, int, error) {
	var h format.PageHeader
	if pc.Levels < int64(rows) || pc.Levels > MaxPageLevels || pc.Uncompressed > maxPageBytes || len(pc.Bytes) > maxPageBytes {
		return h, 0, fmt.Errorf("%d levels, %d bytes (%d uncompressed) for %d rows", pc.Levels, len(pc.Bytes), pc.Uncompressed, rows)
	}
	r := new(thrift.CompactProtocol).NewReaderFromBytes(pc.Bytes)
	if err := thrift.NewDecoder(r).Decode(&h); err != nil {
		return h, 0, fmt.Errorf("page header: %w", err)
	}
	hlen := r.BytesRead()
	v2, ok := h.DataPageHeaderV2.Get()
	switch {
	case h.Type != format.DataPageV2 || !ok:
		return h, 0, fmt.Errorf("page of type %v, want a V2 data page", h.Type)
	case int(h.CompressedPageSize) != len(pc.Bytes)-hlen:
		return h, 0, fmt.Errorf("page of %d bytes, its header says %d", len(pc.Bytes)-hlen, h.CompressedPageSize)
	case h.UncompressedPageSize < 0 || int64(h.UncompressedPageSize)+int64(hlen) != pc.Uncompressed:
		return h, 0, fmt.Errorf("uncompressed size %d, its header says %d", pc.Uncompressed, int64(h.UncompressedPageSize)+int64(hlen))
	case int64(v2.NumValues) != pc.Levels || int(v2.NumRows) != rows || v2.NumNulls < 0 || v2.NumNulls > v2.NumValues:
		return h, 0, fmt.Errorf("header of %d values, %d rows, %d nulls; want %d values, %d rows", v2.NumValues, v2.NumRows, v2.NumNulls, pc.Levels, rows)
	case v2.DefinitionLevelsByteLength < 0 || v2.RepetitionLevelsByteLength < 0 ||
		int64(v2.DefinitionLevelsByteLength)+int64(v2.RepetitionLevelsByteLength) > int64(h.CompressedPageSize) ||
		int64(v2.DefinitionLevelsByteLength)+int64(v2.RepetitionLevelsByteLength) > int64(h.UncompressedPageSize):
		return h, 0, fmt.Errorf("levels of %d+%d bytes in a page of %d", v2.DefinitionLevelsByteLength, v2.RepetitionLevelsByteLength, h.CompressedPageSize)
	}
	return h, hlen, nil
}
