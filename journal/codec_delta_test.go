package journal

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/mdcap/mdcap/schema"
)

// Rows written against the previous row of their symbol come back bit for
// bit, whatever changes between them: symbols interleaved, values that
// appear and vanish, books that grow and shrink, NaN, -0, infinities.
func TestCodec_DeltaRoundTripBitForBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	specials := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e-300, 6000.25, 0.1 + 0.2}
	val := func() *float64 {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return f64(specials[rng.IntN(len(specials))])
		case 2:
			return f64(rng.Float64() * 1e6)
		}
		return f64(6000 + 0.25*float64(rng.IntN(8)))
	}
	list := func() []*float64 {
		n := rng.IntN(13) - 1
		if n < 0 {
			return nil
		}
		l := make([]*float64, n)
		for i := range l {
			l[i] = val()
		}
		return l
	}
	var e encoder
	var want []Record
	syms := []string{"ESZ6", "NQZ6", "CL/F7"}
	for i := 0; i < 3000; i++ {
		sym := syms[rng.IntN(len(syms))]
		recv := int64(i) * 1000
		if rng.IntN(2) == 0 {
			q := &schema.Quote{RecvTS: recv, TS: recv - rng.Int64N(1e6), ContractID: rng.Int64N(3) + 1e6, ConnID: rng.Int64N(2) + 1,
				Seq: int64(i)/2 - rng.Int64N(3), BidPrice: val(), BidSize: val(), AskPrice: val(), AskSize: val(), TradePrice: val(),
				TradeSize: val(), TotalVolume: val(), OpenInterest: val(), OpenPrice: val(), HighPrice: val(), LowPrice: val(),
				SettlementPrice: val()}
			e.quote(sym, q)
			want = append(want, Record{Table: schema.TableQuotes, Symbol: sym, Quote: q})
		} else {
			d := &schema.DOM{RecvTS: recv, TS: recv, ContractID: 7, ConnID: 1, Seq: int64(i),
				BidPrices: list(), BidSizes: list(), AskPrices: list(), AskSizes: list()}
			e.dom(sym, d)
			want = append(want, Record{Table: schema.TableDOM, Symbol: sym, DOM: d})
		}
	}
	dec := decoder{b: e.b}
	for i := range want {
		r, ok := dec.next()
		if !ok {
			t.Fatalf("record %d: %v", i, dec.err)
		}
		if !sameBits(r, want[i]) {
			t.Fatalf("record %d differs:\n got %+v\nwant %+v", i, r, want[i])
		}
	}
	if _, ok := dec.next(); ok || dec.err != nil {
		t.Fatalf("trailing record or error: %v", dec.err)
	}
	// A reset block starts from zero: the same rows decode again.
	e.reset()
	e.quote("ESZ6", want[0].Quote)
	if r, ok := (&decoder{b: e.b}).next(); !ok || r.Quote == nil || !reflect.DeepEqual(r.Quote.Seq, want[0].Quote.Seq) {
		t.Fatalf("after reset: %+v %v", r, ok)
	}
}

// sameBits compares two records with doubles compared by their bits (NaN
// equals NaN, -0 differs from +0).
func sameBits(a, b Record) bool {
	if a.Table != b.Table || a.Symbol != b.Symbol {
		return false
	}
	eq := func(x, y *float64) bool {
		return (x == nil) == (y == nil) && (x == nil || math.Float64bits(*x) == math.Float64bits(*y))
	}
	eqs := func(x, y []*float64) bool {
		if (x == nil) != (y == nil) || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !eq(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if a.Quote != nil {
		x, y := a.Quote, b.Quote
		return y != nil && x.RecvTS == y.RecvTS && x.TS == y.TS && x.ContractID == y.ContractID && x.ConnID == y.ConnID &&
			x.Seq == y.Seq && eq(x.BidPrice, y.BidPrice) && eq(x.BidSize, y.BidSize) && eq(x.AskPrice, y.AskPrice) &&
			eq(x.AskSize, y.AskSize) && eq(x.TradePrice, y.TradePrice) && eq(x.TradeSize, y.TradeSize) &&
			eq(x.TotalVolume, y.TotalVolume) && eq(x.OpenInterest, y.OpenInterest) && eq(x.OpenPrice, y.OpenPrice) &&
			eq(x.HighPrice, y.HighPrice) && eq(x.LowPrice, y.LowPrice) && eq(x.SettlementPrice, y.SettlementPrice)
	}
	x, y := a.DOM, b.DOM
	return x != nil && y != nil && x.RecvTS == y.RecvTS && x.TS == y.TS && x.ContractID == y.ContractID &&
		x.ConnID == y.ConnID && x.Seq == y.Seq && eqs(x.BidPrices, y.BidPrices) && eqs(x.BidSizes, y.BidSizes) &&
		eqs(x.AskPrices, y.AskPrices) && eqs(x.AskSizes, y.AskSizes)
}
