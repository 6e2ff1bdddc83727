package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/mdcap/mdcap/schema"
)

// Record kinds inside a block.
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
// row on the writer goroutine: integers as varints, doubles as 8 bytes,
// a nullable double as a presence bit in a mask (quotes, ticks) or a
// presence byte (list elements).

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendF64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// appendOpt appends the nullable doubles ps behind a presence mask.
func appendOpt(b []byte, ps ...*float64) []byte {
	var mask uint64
	for i, p := range ps {
		if p != nil {
			mask |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, mask)
	for _, p := range ps {
		if p != nil {
			b = appendF64(b, *p)
		}
	}
	return b
}

func appendList(b []byte, l []*float64) []byte {
	if l == nil {
		b = append(b, 0)
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(l))+1) // 0 = nil list, 1 = empty
	for _, p := range l {
		if p == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = appendF64(b, *p)
	}
	return b
}

func appendQuote(b []byte, sym string, q *schema.Quote) []byte {
	b = append(b, recQuote)
	b = appendString(b, sym)
	b = binary.AppendVarint(b, q.RecvTS)
	b = binary.AppendVarint(b, q.TS)
	b = binary.AppendVarint(b, q.ContractID)
	b = binary.AppendVarint(b, q.ConnID)
	b = binary.AppendVarint(b, q.Seq)
	return appendOpt(b, q.BidPrice, q.BidSize, q.AskPrice, q.AskSize, q.TradePrice, q.TradeSize,
		q.TotalVolume, q.OpenInterest, q.OpenPrice, q.HighPrice, q.LowPrice, q.SettlementPrice)
}

func appendDOM(b []byte, sym string, d *schema.DOM) []byte {
	b = append(b, recDOM)
	b = appendString(b, sym)
	b = binary.AppendVarint(b, d.RecvTS)
	b = binary.AppendVarint(b, d.TS)
	b = binary.AppendVarint(b, d.ContractID)
	b = binary.AppendVarint(b, d.ConnID)
	b = binary.AppendVarint(b, d.Seq)
	b = appendList(b, d.BidPrices)
	b = appendList(b, d.BidSizes)
	b = appendList(b, d.AskPrices)
	return appendList(b, d.AskSizes)
}

func appendTick(b []byte, sym string, t *schema.Tick) []byte {
	b = append(b, recTick)
	b = appendString(b, sym)
	b = binary.AppendVarint(b, t.RecvTS)
	b = binary.AppendVarint(b, t.TS)
	b = binary.AppendVarint(b, t.ContractID)
	b = binary.AppendVarint(b, t.ConnID)
	b = binary.AppendVarint(b, t.TickID)
	b = appendF64(b, t.Price)
	b = appendF64(b, t.Size)
	b = appendOpt(b, t.BidPrice, t.AskPrice, t.BidSize, t.AskSize)
	return appendString(b, t.Source)
}

func appendEvent(b []byte, sym string, e *schema.Event) []byte {
	b = append(b, recEvent)
	b = appendString(b, sym)
	b = binary.AppendVarint(b, e.RecvTS)
	b = appendString(b, e.RunID)
	b = appendString(b, e.Kind)
	var mask byte
	if e.GapStart != nil {
		mask |= 1
	}
	if e.GapEnd != nil {
		mask |= 2
	}
	b = append(b, mask)
	if e.GapStart != nil {
		b = binary.AppendVarint(b, *e.GapStart)
	}
	if e.GapEnd != nil {
		b = binary.AppendVarint(b, *e.GapEnd)
	}
	b = appendString(b, e.Reason)
	b = binary.AppendVarint(b, e.ConnID)
	return appendString(b, e.Detail)
}

// errDecode is a block whose records do not decode: it passed its
// checksum, so a bug or a foreign file, treated like corruption.
var errDecode = errors.New("malformed record")

// decoder reads records out of one decompressed block.
type decoder struct {
	b   []byte
	err error
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

func (d *decoder) opt(ps ...**float64) {
	mask := d.uvarint()
	if mask>>len(ps) != 0 {
		d.fail()
		return
	}
	for i, p := range ps {
		if mask&(1<<i) != 0 {
			v := d.f64()
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
		switch d.byte() {
		case 0:
		case 1:
			v := d.f64()
			l[i] = &v
		default:
			d.fail()
			return nil
		}
	}
	return l
}

// next decodes the next record; ok is false at the end of the block or
// on a malformed record (then d.err is set).
func (d *decoder) next() (Record, bool) {
	if len(d.b) == 0 || d.err != nil {
		return Record{}, false
	}
	kind := d.byte()
	r := Record{Symbol: d.string()}
	switch kind {
	case recQuote:
		q := &schema.Quote{RecvTS: d.varint(), TS: d.varint(), ContractID: d.varint(), ConnID: d.varint(), Seq: d.varint()}
		d.opt(&q.BidPrice, &q.BidSize, &q.AskPrice, &q.AskSize, &q.TradePrice, &q.TradeSize,
			&q.TotalVolume, &q.OpenInterest, &q.OpenPrice, &q.HighPrice, &q.LowPrice, &q.SettlementPrice)
		r.Table, r.Quote = schema.TableQuotes, q
	case recDOM:
		m := &schema.DOM{RecvTS: d.varint(), TS: d.varint(), ContractID: d.varint(), ConnID: d.varint(), Seq: d.varint()}
		m.BidPrices, m.BidSizes, m.AskPrices, m.AskSizes = d.list(), d.list(), d.list(), d.list()
		r.Table, r.DOM = schema.TableDOM, m
	case recTick:
		t := &schema.Tick{RecvTS: d.varint(), TS: d.varint(), ContractID: d.varint(), ConnID: d.varint(), TickID: d.varint()}
		t.Price, t.Size = d.f64(), d.f64()
		d.opt(&t.BidPrice, &t.AskPrice, &t.BidSize, &t.AskSize)
		t.Source = d.string()
		r.Table, r.Tick = schema.TableTicks, t
	case recEvent:
		e := &schema.Event{RecvTS: d.varint(), RunID: d.string(), Kind: d.string()}
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
