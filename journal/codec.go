package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage/pqw"
)

// Record kinds inside a block (recQuote and recDOM: the first format,
// still read; new blocks use the kinds of codec_delta.go).
const (
	recQuote byte = 1 + iota
	recDOM
	recEvent
	recTick
)

// Record is one decoded journal record: a row of one table for one symbol.
// Exactly one of the row pointers is set, matching Table.
type Record struct {
	Table  schema.Table
	Symbol string
	Quote  *schema.Quote
	DOM    *schema.DOM
	Event  *schema.Event
	Tick   *schema.Tick
}

// RecvTS is the row's receive time.
func (r *Record) RecvTS() int64 {
	switch {
	case r.Quote != nil:
		return r.Quote.RecvTS
	case r.DOM != nil:
		return r.DOM.RecvTS
	case r.Tick != nil:
		return r.Tick.RecvTS
	case r.Event != nil:
		return r.Event.RecvTS
	}
	return 0
}

// The encoding is hand-written (no reflection) because it runs once per
// row (on the flusher goroutine, over the rows the writer copied into a
// chunk), and compact because the disk then has less to take: within a block (one frame), a record names its symbol by an index
// into the block's symbol table, its recv_ts as the difference from the
// previous record's and its ts as the difference from its recv_ts;
// integers are zigzag varints. Quotes and DOM rows write their doubles
// against the symbol's previous row (codec_delta.go). Ticks, events and
// the first format's quotes and DOM rows write a double as an integer or
// in hundredths when that is exact (sizes, volumes, most prices), else as
// its 8 bytes, behind a 2-bit tag that also says NULL.

// Value tags of a nullable double.
const (
	tagNull  = 0
	tagInt   = 1
	tagCents = 2
	tagRaw   = 3
)

// maxExact bounds the integers a double is written as (2^53: exact).
const maxExact = 1 << 53

// encoder appends records to a block; its state is the block's.
type encoder struct {
	b        []byte
	syms     []string
	symIdx   map[string]int // when syms is long
	lastSym  int
	prevRecv int64
	st       []symState // per symbol index: its previous rows (codec_delta.go)
	// The block index of the symbol at index p of the journal's symbol
	// table (symTable) is pidx[p] when pgen[p] is gen (symbolAt): gen
	// changes at each reset instead of the table being cleared.
	pidx []int32
	pgen []uint32
	gen  uint32
	tmp  chunk // the tests' rows, copied (dom)
}

func (e *encoder) reset() {
	e.b, e.syms, e.lastSym, e.prevRecv, e.st = e.b[:0], e.syms[:0], 0, 0, e.st[:0]
	if e.symIdx != nil {
		clear(e.symIdx)
	}
	e.gen++
}

// record writes a row the writer copied into c (flusher); name is the
// symbol at r.sym.
func (e *encoder) record(r *rec, name string, c *chunk) {
	e.b = append(e.b, r.kind)
	si := e.symbolAt(r.sym, name)
	switch r.kind {
	case recQuoteDelta:
		e.quoteRec(si, r, c.floats)
	case recDOMDelta:
		e.domRec(si, r, c)
	case recTick:
		e.tickRec(r, c)
	case recEvent:
		e.eventRec(r, c)
	case recPage:
		e.pageRec(r, c)
	}
}

// symbolAt writes the block index of the symbol at index p of the
// journal's symbol table, adding it to the block's table (index, then
// the string, as symbol does) when it is new in the block.
func (e *encoder) symbolAt(p int32, name string) int {
	if e.gen == 0 { // a new encoder, or gen wrapped around
		clear(e.pgen)
		e.gen = 1
	}
	for int(p) >= len(e.pgen) {
		e.pgen = append(e.pgen, 0)
		e.pidx = append(e.pidx, 0)
	}
	if e.pgen[p] == e.gen {
		i := int(e.pidx[p])
		e.b = binary.AppendUvarint(e.b, uint64(i))
		return i
	}
	i := len(e.syms)
	e.syms = append(e.syms, name)
	e.pgen[p], e.pidx[p] = e.gen, int32(i)
	e.b = binary.AppendUvarint(e.b, uint64(i))
	e.string(name)
	return i
}

func (e *encoder) string(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) varint(v int64) { e.b = binary.AppendVarint(e.b, v) }

// symbol writes the symbol's index in the block's table, adding it
// (index = table length, then the string) when new, and returns it.
func (e *encoder) symbol(s string) int {
	if e.lastSym < len(e.syms) && e.syms[e.lastSym] == s {
		e.b = binary.AppendUvarint(e.b, uint64(e.lastSym))
		return e.lastSym
	}
	i := -1
	if e.symIdx != nil {
		if k, ok := e.symIdx[s]; ok {
			i = k
		}
	} else {
		for k, x := range e.syms {
			if x == s {
				i = k
				break
			}
		}
	}
	if i < 0 {
		i = len(e.syms)
		e.syms = append(e.syms, s)
		if e.symIdx == nil && len(e.syms) > 16 {
			e.symIdx = make(map[string]int, 64)
			for k, x := range e.syms {
				e.symIdx[x] = k
			}
		} else if e.symIdx != nil {
			e.symIdx[s] = i
		}
		e.b = binary.AppendUvarint(e.b, uint64(i))
		e.string(s)
	} else {
		e.b = binary.AppendUvarint(e.b, uint64(i))
	}
	e.lastSym = i
	return i
}

func (e *encoder) recv(ts int64) {
	e.varint(ts - e.prevRecv)
	e.prevRecv = ts
}

// tagOf is how a double is written.
func tagOf(v float64) (byte, int64) {
	if v > -maxExact && v < maxExact {
		if i := int64(v); float64(i) == v {
			if i == 0 && math.Signbit(v) {
				return tagRaw, 0 // -0 keeps its sign
			}
			return tagInt, i
		}
		w := v * 100
		if i := int64(w); w > -maxExact && w < maxExact && float64(i) == w && float64(i)/100 == v {
			return tagCents, i
		}
	}
	return tagRaw, 0
}

func (e *encoder) value(tag byte, i int64, v float64) {
	switch tag {
	case tagInt, tagCents:
		e.varint(i)
	case tagRaw:
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
	}
}

// opt writes nullable doubles (at most 16) behind a mask of 2-bit tags.
func (e *encoder) opt(ps ...*float64) {
	var (
		mask uint64
		tags [16]byte
		ints [16]int64
	)
	for k, p := range ps {
		if p != nil {
			tags[k], ints[k] = tagOf(*p)
			mask |= uint64(tags[k]) << (2 * k)
		}
	}
	e.b = binary.AppendUvarint(e.b, mask)
	for k, p := range ps {
		if p != nil {
			e.value(tags[k], ints[k], *p)
		}
	}
}

// optVals writes the values of vals whose bit is set in present
// (nullable doubles, at most 16) as opt does.
func (e *encoder) optVals(present uint16, vals []float64) {
	var (
		mask uint64
		tags [16]byte
		ints [16]int64
	)
	for k, v := range vals {
		if present&(1<<k) != 0 {
			tags[k], ints[k] = tagOf(v)
			mask |= uint64(tags[k]) << (2 * k)
		}
	}
	e.b = binary.AppendUvarint(e.b, mask)
	for k, v := range vals {
		if present&(1<<k) != 0 {
			e.value(tags[k], ints[k], v)
		}
	}
}

// tick writes a ticks row (the tests' way in; see quote).
func (e *encoder) tick(sym string, t *schema.Tick) {
	e.b = append(e.b, recTick)
	e.symbol(sym)
	e.tmp.reset()
	var r rec
	e.tmp.copyTick(&r, t)
	e.tickRec(&r, &e.tmp)
}

// tickRec writes the body of a tick copied into r (its values and
// source in c).
func (e *encoder) tickRec(r *rec, c *chunk) {
	e.recv(r.i[0])
	e.varint(r.i[1] - r.i[0])
	e.varint(r.i[2])
	e.varint(r.i[3])
	e.varint(r.i[4])
	vals := c.floats[r.off:]
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(vals[0]))
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(vals[1]))
	var opt [4]float64
	for k, x := 0, 2; k < 4; k++ {
		if r.mask&(1<<k) != 0 {
			opt[k] = vals[x]
			x++
		}
	}
	e.optVals(r.mask, opt[:])
	e.string(c.strs[r.aux])
}

// event writes an events row (the tests' way in; see quote).
func (e *encoder) event(sym string, ev *schema.Event) {
	e.b = append(e.b, recEvent)
	e.symbol(sym)
	e.tmp.reset()
	var r rec
	e.tmp.copyEvent(&r, ev)
	e.eventRec(&r, &e.tmp)
}

// eventRec writes the body of an event copied into r (its strings in c).
func (e *encoder) eventRec(r *rec, c *chunk) {
	strs := c.strs[r.aux : r.aux+4]
	e.recv(r.i[0])
	e.string(strs[0])
	e.string(strs[1])
	e.b = append(e.b, byte(r.mask))
	if r.mask&1 != 0 {
		e.varint(r.i[2])
	}
	if r.mask&2 != 0 {
		e.varint(r.i[3])
	}
	e.string(strs[2])
	e.varint(r.i[1])
	e.string(strs[3])
}

// errDecode is a block whose records do not decode: it passed its
// checksum, so a bug or a foreign file, treated like corruption.
var errDecode = errors.New("malformed record")

// decoder reads records out of one decompressed block.
type decoder struct {
	b        []byte
	err      error
	syms     []string
	symIdx   int // index of the last symbol read
	prevRecv int64
	st       []symState
	queue    []Record // the rest of a page record's rows
	// pages decodes page records, made at the first; whoever made the
	// decoder closes it (ReadSegment, once per segment).
	pages *pqw.PageDecoder
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errDecode
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) f64() float64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) value(tag byte) (float64, bool) {
	switch tag {
	case tagInt:
		return float64(d.varint()), true
	case tagCents:
		return float64(d.varint()) / 100, true
	case tagRaw:
		return d.f64(), true
	}
	return 0, false
}

func (d *decoder) opt(ps ...**float64) {
	mask := d.uvarint()
	if mask>>(2*len(ps)) != 0 {
		d.fail()
		return
	}
	for i, p := range ps {
		if tag := byte(mask>>(2*i)) & 3; tag != tagNull {
			v, _ := d.value(tag)
			*p = &v
		}
	}
}

func (d *decoder) list() []*float64 {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > uint64(len(d.b)) { // every element takes at least a byte
		d.fail()
		return nil
	}
	l := make([]*float64, n)
	for i := range l {
		tag := d.byte()
		if tag == tagNull {
			continue
		}
		v, ok := d.value(tag)
		if !ok {
			d.fail()
			return nil
		}
		l[i] = &v
	}
	return l
}

func (d *decoder) symbol() string {
	i := d.uvarint()
	switch {
	case d.err != nil:
		return ""
	case i < uint64(len(d.syms)):
		d.symIdx = int(i)
		return d.syms[i]
	case i == uint64(len(d.syms)):
		s := d.string()
		d.symIdx = len(d.syms)
		d.syms = append(d.syms, s)
		return s
	}
	d.fail()
	return ""
}

func (d *decoder) recv() int64 {
	d.prevRecv += d.varint()
	return d.prevRecv
}

// next decodes the next record; ok is false at the end of the block or
// on a malformed record (then d.err is set).
func (d *decoder) next() (Record, bool) {
	if len(d.queue) > 0 && d.err == nil {
		r := d.queue[0]
		d.queue = d.queue[1:]
		return r, true
	}
	if len(d.b) == 0 || d.err != nil {
		return Record{}, false
	}
	kind := d.byte()
	r := Record{Symbol: d.symbol()}
	switch kind {
	case recPage:
		if d.err != nil || r.Symbol == "" {
			d.fail()
			return Record{}, false
		}
		return d.page(r.Symbol)
	case recQuoteDelta:
		if d.err == nil {
			r.Table, r.Quote = schema.TableQuotes, d.quoteDelta(stateAt(&d.st, d.symIdx))
		}
	case recDOMDelta:
		if d.err == nil {
			r.Table, r.DOM = schema.TableDOM, d.domDelta(stateAt(&d.st, d.symIdx))
		}
	case recQuote:
		q := &schema.Quote{RecvTS: d.recv()}
		q.TS = q.RecvTS + d.varint()
		q.ContractID, q.ConnID, q.Seq = d.varint(), d.varint(), d.varint()
		d.opt(&q.BidPrice, &q.BidSize, &q.AskPrice, &q.AskSize, &q.TradePrice, &q.TradeSize,
			&q.TotalVolume, &q.OpenInterest, &q.OpenPrice, &q.HighPrice, &q.LowPrice, &q.SettlementPrice)
		r.Table, r.Quote = schema.TableQuotes, q
	case recDOM:
		m := &schema.DOM{RecvTS: d.recv()}
		m.TS = m.RecvTS + d.varint()
		m.ContractID, m.ConnID, m.Seq = d.varint(), d.varint(), d.varint()
		m.BidPrices, m.BidSizes, m.AskPrices, m.AskSizes = d.list(), d.list(), d.list(), d.list()
		r.Table, r.DOM = schema.TableDOM, m
	case recTick:
		t := &schema.Tick{RecvTS: d.recv()}
		t.TS = t.RecvTS + d.varint()
		t.ContractID, t.ConnID, t.TickID = d.varint(), d.varint(), d.varint()
		t.Price, t.Size = d.f64(), d.f64()
		d.opt(&t.BidPrice, &t.AskPrice, &t.BidSize, &t.AskSize)
		t.Source = d.string()
		r.Table, r.Tick = schema.TableTicks, t
	case recEvent:
		e := &schema.Event{RecvTS: d.recv()}
		e.RunID, e.Kind = d.string(), d.string()
		mask := d.byte()
		if mask&1 != 0 {
			v := d.varint()
			e.GapStart = &v
		}
		if mask&2 != 0 {
			v := d.varint()
			e.GapEnd = &v
		}
		e.Reason, e.ConnID, e.Detail = d.string(), d.varint(), d.string()
		r.Table, r.Event = schema.TableEvents, e
	default:
		d.err = fmt.Errorf("%w: unknown kind %d", errDecode, kind)
	}
	if d.err != nil || r.Symbol == "" {
		d.fail()
		return Record{}, false
	}
	return r, true
}
