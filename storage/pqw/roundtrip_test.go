package pqw

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/mdcap/mdcap/schema"
)

// gen makes random rows with the values a writer must keep exactly:
// NULLs, NaN, ±Inf, -0, extreme int64s, empty, long and NULL-holding
// lists, empty and long strings.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

var specialDoubles = []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64}

func (g *gen) double() float64 {
	if g.r.IntN(8) == 0 {
		return specialDoubles[g.r.IntN(len(specialDoubles))]
	}
	return math.Round(g.r.NormFloat64()*1e4) / 4
}

func (g *gen) optDouble() *float64 {
	if g.r.IntN(3) == 0 {
		return nil
	}
	v := g.double()
	return &v
}

var specialInt64s = []int64{math.MinInt64, math.MaxInt64, 0, -1, 1, math.MinInt64 + 1}

func (g *gen) int64() int64 {
	if g.r.IntN(6) == 0 {
		return specialInt64s[g.r.IntN(len(specialInt64s))]
	}
	return g.r.Int64N(1<<40) - 1<<39
}

func (g *gen) list() []*float64 {
	var n int
	switch g.r.IntN(6) {
	case 0:
		return nil
	case 1:
		return []*float64{}
	case 2:
		n = 100 + g.r.IntN(200) // long
	default:
		n = 1 + g.r.IntN(12)
	}
	l := make([]*float64, n)
	for i := range l {
		l[i] = g.optDouble()
	}
	return l
}

func (g *gen) str() string {
	switch g.r.IntN(5) {
	case 0:
		return ""
	case 1:
		b := make([]byte, 100+g.r.IntN(300))
		for i := range b {
			b[i] = byte(g.r.IntN(256))
		}
		return string(b)
	}
	return fmt.Sprintf("s%d", g.r.IntN(20))
}

func (g *gen) optInt64() *int64 {
	if g.r.IntN(2) == 0 {
		return nil
	}
	v := g.int64()
	return &v
}

func (g *gen) quote() schema.Quote {
	return schema.Quote{
		RecvTS: g.int64(), TS: g.int64(), ContractID: g.int64(),
		BidPrice: g.optDouble(), BidSize: g.optDouble(), AskPrice: g.optDouble(), AskSize: g.optDouble(),
		TradePrice: g.optDouble(), TradeSize: g.optDouble(), TotalVolume: g.optDouble(),
		OpenInterest: g.optDouble(), OpenPrice: g.optDouble(), HighPrice: g.optDouble(),
		LowPrice: g.optDouble(), SettlementPrice: g.optDouble(),
		ConnID: g.int64(), Seq: g.int64(),
	}
}

func (g *gen) dom() schema.DOM {
	return schema.DOM{
		RecvTS: g.int64(), TS: g.int64(), ContractID: g.int64(), ConnID: g.int64(), Seq: g.int64(),
		BidPrices: g.list(), BidSizes: g.list(), AskPrices: g.list(), AskSizes: g.list(),
	}
}

func (g *gen) tick() schema.Tick {
	return schema.Tick{
		RecvTS: g.int64(), TS: g.int64(), ContractID: g.int64(), ConnID: g.int64(), TickID: g.int64(),
		Price: g.double(), Size: g.double(),
		BidPrice: g.optDouble(), AskPrice: g.optDouble(), BidSize: g.optDouble(), AskSize: g.optDouble(),
		Source: g.str(),
	}
}

func (g *gen) event() schema.Event {
	return schema.Event{
		RecvTS: g.int64(), RunID: g.str(), Kind: g.str(), GapStart: g.optInt64(), GapEnd: g.optInt64(),
		Reason: g.str(), ConnID: g.int64(), Detail: g.str(),
	}
}

// writeFile writes rows with pqw, a row group every groupRows rows, and
// returns the file's bytes.
func writeFile[T any](t testing.TB, table schema.Table, rows []T, groupRows, pageLevels int, add func(*Writer, *T)) []byte {
	t.Helper()
	l, err := LayoutOf(table)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := NewCompressor(1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := NewWriter(l, NewEncoder(comp, pageLevels), &buf, Options{CreatedBy: "test", KeyValue: map[string]string{"b": "2", "a": "1"}})
	for i := range rows {
		add(w, &rows[i])
		if w.Rows() >= groupRows {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) {
		t.Fatalf("Size %d after Close, file has %d bytes", w.Size(), buf.Len())
	}
	return buf.Bytes()
}

// readFile reads a file back with parquet-go's generic reader.
func readFile[T any](t testing.TB, b []byte) ([]T, *parquet.File) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	out := make([]T, f.NumRows())
	n, err := r.Read(out)
	if err != nil && err != io.EOF {
		t.Fatalf("read: %v", err)
	}
	if n != len(out) {
		t.Fatalf("read %d rows of %d", n, len(out))
	}
	return out, f
}

func sameF(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func sameP(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameF(*a, *b)
}

func sameI(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// sameList: a nil list is written as an empty one.
func sameList(a, b []*float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameP(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sameQuote(a, b schema.Quote) bool {
	return a.RecvTS == b.RecvTS && a.TS == b.TS && a.ContractID == b.ContractID && a.ConnID == b.ConnID && a.Seq == b.Seq &&
		sameP(a.BidPrice, b.BidPrice) && sameP(a.BidSize, b.BidSize) && sameP(a.AskPrice, b.AskPrice) && sameP(a.AskSize, b.AskSize) &&
		sameP(a.TradePrice, b.TradePrice) && sameP(a.TradeSize, b.TradeSize) && sameP(a.TotalVolume, b.TotalVolume) &&
		sameP(a.OpenInterest, b.OpenInterest) && sameP(a.OpenPrice, b.OpenPrice) && sameP(a.HighPrice, b.HighPrice) &&
		sameP(a.LowPrice, b.LowPrice) && sameP(a.SettlementPrice, b.SettlementPrice)
}

func sameDOM(a, b schema.DOM) bool {
	return a.RecvTS == b.RecvTS && a.TS == b.TS && a.ContractID == b.ContractID && a.ConnID == b.ConnID && a.Seq == b.Seq &&
		sameList(a.BidPrices, b.BidPrices) && sameList(a.BidSizes, b.BidSizes) && sameList(a.AskPrices, b.AskPrices) && sameList(a.AskSizes, b.AskSizes)
}

func sameTick(a, b schema.Tick) bool {
	return a.RecvTS == b.RecvTS && a.TS == b.TS && a.ContractID == b.ContractID && a.ConnID == b.ConnID && a.TickID == b.TickID &&
		sameF(a.Price, b.Price) && sameF(a.Size, b.Size) && sameP(a.BidPrice, b.BidPrice) && sameP(a.AskPrice, b.AskPrice) &&
		sameP(a.BidSize, b.BidSize) && sameP(a.AskSize, b.AskSize) && a.Source == b.Source
}

func sameEvent(a, b schema.Event) bool {
	return a.RecvTS == b.RecvTS && a.RunID == b.RunID && a.Kind == b.Kind && sameI(a.GapStart, b.GapStart) &&
		sameI(a.GapEnd, b.GapEnd) && a.Reason == b.Reason && a.ConnID == b.ConnID && a.Detail == b.Detail
}

// shapes are the row counts, row-group sizes and page sizes a round trip
// must survive: 0 and 1 row, one page, many pages, many row groups, a
// row group ending on a page boundary.
var shapes = []struct{ rows, group, page int }{
	{0, 100, 0}, {1, 100, 0}, {1, 1, 1}, {7, 3, 2}, {100, 100, 10}, {1000, 256, 7},
	{1000, 1000, 0}, {3000, 1 << 20, 64}, {2048, 512, 128},
}

func roundTrip[T any](t *testing.T, table schema.Table, mk func(*gen) T, add func(*Writer, *T), same func(a, b T) bool) {
	for i, sh := range shapes {
		t.Run(fmt.Sprintf("%d/%d/%d", sh.rows, sh.group, sh.page), func(t *testing.T) {
			g := newGen(uint64(i) + 1)
			rows := make([]T, sh.rows)
			for k := range rows {
				rows[k] = mk(g)
			}
			got, f := readFile[T](t, writeFile(t, table, rows, sh.group, sh.page, add))
			if len(got) != len(rows) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
			}
			for k := range rows {
				if !same(got[k], rows[k]) {
					t.Fatalf("row %d differs:\n got %+v\nwant %+v", k, got[k], rows[k])
				}
			}
			wantGroups := (sh.rows + sh.group - 1) / sh.group
			if n := len(f.RowGroups()); n != wantGroups {
				t.Errorf("%d row groups, want %d", n, wantGroups)
			}
			checkStats(t, f)
		})
	}
}

func TestRoundTripQuotes(t *testing.T) {
	roundTrip(t, schema.TableQuotes, (*gen).quote, (*Writer).AppendQuote, sameQuote)
}

func TestRoundTripDOM(t *testing.T) {
	roundTrip(t, schema.TableDOM, (*gen).dom, (*Writer).AppendDOM, sameDOM)
}

func TestRoundTripTicks(t *testing.T) {
	roundTrip(t, schema.TableTicks, (*gen).tick, (*Writer).AppendTick, sameTick)
}

func TestRoundTripEvents(t *testing.T) {
	roundTrip(t, schema.TableEvents, (*gen).event, (*Writer).AppendEvent, sameEvent)
}
