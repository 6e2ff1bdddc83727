package journal

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/mdcap/mdcap/schema"
)

// The first record format's encoders: the recorder no longer writes it,
// but recovery still reads journals an older recorder left.

func (e *encoder) quoteV1(sym string, q *schema.Quote) {
	e.b = append(e.b, recQuote)
	e.symbol(sym)
	e.recv(q.RecvTS)
	e.varint(q.TS - q.RecvTS)
	e.varint(q.ContractID)
	e.varint(q.ConnID)
	e.varint(q.Seq)
	e.opt(q.BidPrice, q.BidSize, q.AskPrice, q.AskSize, q.TradePrice, q.TradeSize,
		q.TotalVolume, q.OpenInterest, q.OpenPrice, q.HighPrice, q.LowPrice, q.SettlementPrice)
}

func (e *encoder) domV1(sym string, d *schema.DOM) {
	e.b = append(e.b, recDOM)
	e.symbol(sym)
	e.recv(d.RecvTS)
	e.varint(d.TS - d.RecvTS)
	e.varint(d.ContractID)
	e.varint(d.ConnID)
	e.varint(d.Seq)
	e.list(d.BidPrices)
	e.list(d.BidSizes)
	e.list(d.AskPrices)
	e.list(d.AskSizes)
}

// list writes a list of nullable doubles: length+1 (0 = nil list), then
// each element's tag and value.
func (e *encoder) list(l []*float64) {
	if l == nil {
		e.b = append(e.b, 0)
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(l))+1)
	for _, p := range l {
		if p == nil {
			e.b = append(e.b, tagNull)
			continue
		}
		t, i := tagOf(*p)
		e.b = append(e.b, t)
		e.value(t, i, *p)
	}
}

func TestCodec_FirstFormatStillDecodes(t *testing.T) {
	q := schema.Quote{RecvTS: 5, TS: 4, ContractID: 9, ConnID: 2, Seq: 77, BidPrice: f64(6000.25), AskSize: f64(0.1 + 0.2)}
	d := schema.DOM{RecvTS: 10, TS: 11, ContractID: 9, ConnID: 1, Seq: 3,
		BidPrices: []*float64{f64(1), nil, f64(3)}, BidSizes: []*float64{}, AskSizes: []*float64{nil}}
	var e encoder
	e.quoteV1("ESZ6", &q)
	e.domV1("ESZ6", &d)
	e.quote("ESZ6", &q) // both formats may share a block
	dec := decoder{b: e.b}
	for i, want := range []any{q, d, q} {
		r, ok := dec.next()
		if !ok {
			t.Fatalf("record %d: %v", i, dec.err)
		}
		var got any
		if r.Quote != nil {
			got = *r.Quote
		} else {
			got = *r.DOM
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: %+v, want %+v", i, got, want)
		}
	}
}
