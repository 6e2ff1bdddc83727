package pqw

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mdcap/mdcap/schema"
)

// journalRows is what a journal rebuilds from a writer's tap: the rows
// of the pages (past their Skip, through a PageDecoder) and of the tails, in
// the order they were handed over.
type journalRows struct {
	t      testing.TB
	table  schema.Table
	quotes []schema.Quote
	doms   []schema.DOM
	ticks  []schema.Tick
	events []schema.Event
	pages  int
	tailed int
	dec    *PageDecoder
}

func newJournalRows(t testing.TB, table schema.Table) *journalRows {
	d, err := NewPageDecoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return &journalRows{t: t, table: table, dec: d}
}

func cloneF(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneI(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneList(l []*float64) []*float64 {
	var out []*float64
	for _, p := range l {
		out = append(out, cloneF(p))
	}
	return out
}

func (j *journalRows) Quote(sym string, r *schema.Quote) {
	q := *r
	for _, p := range []**float64{&q.BidPrice, &q.BidSize, &q.AskPrice, &q.AskSize, &q.TradePrice, &q.TradeSize,
		&q.TotalVolume, &q.OpenInterest, &q.OpenPrice, &q.HighPrice, &q.LowPrice, &q.SettlementPrice} {
		*p = cloneF(*p)
	}
	j.quotes = append(j.quotes, q)
}

func (j *journalRows) DOM(sym string, r *schema.DOM) {
	d := *r
	d.BidPrices, d.BidSizes, d.AskPrices, d.AskSizes = cloneList(d.BidPrices), cloneList(d.BidSizes), cloneList(d.AskPrices), cloneList(d.AskSizes)
	j.doms = append(j.doms, d)
}

func (j *journalRows) Tick(sym string, r *schema.Tick) {
	t := *r
	t.BidPrice, t.AskPrice, t.BidSize, t.AskSize = cloneF(t.BidPrice), cloneF(t.AskPrice), cloneF(t.BidSize), cloneF(t.AskSize)
	j.ticks = append(j.ticks, t)
}

func (j *journalRows) Event(sym string, r *schema.Event) {
	e := *r
	e.GapStart, e.GapEnd = cloneI(e.GapStart), cloneI(e.GapEnd)
	j.events = append(j.events, e)
}

// page decodes a tapped page; its bytes are copied first, as a journal
// does (they are the writer's, valid during the call only).
func (j *journalRows) page(p *Page) {
	j.pages++
	cp := Page{Rows: p.Rows, Skip: p.Skip}
	for _, c := range p.Cols {
		cp.Cols = append(cp.Cols, PageColumn{Bytes: bytes.Clone(c.Bytes), Levels: c.Levels, Uncompressed: c.Uncompressed})
	}
	if err := j.dec.Decode(j.table, "S", &cp, j); err != nil {
		j.t.Fatalf("decode page: %v", err)
	}
}

// tapTrip writes rows through a tapped writer, taking the tail at random
// moments (and after the last row, before Close), and checks that the
// pages and tails give back every row once, in order, while the file
// itself still reads back whole.
func tapTrip[T any](t *testing.T, table schema.Table, mk func(*gen) T, add func(*Writer, *T), same func(a, b T) bool, got func(*journalRows) []T) {
	for i, sh := range shapes {
		if sh.rows > 1000 {
			continue // the shapes above cover pages and row groups; decoding is slow under -race
		}
		for _, every := range []int{1, 40, 1 << 30} {
			t.Run(fmt.Sprintf("%d/%d/%d/tail%d", sh.rows, sh.group, sh.page, every), func(t *testing.T) {
				g := newGen(uint64(i)*7 + uint64(every))
				rows := make([]T, sh.rows)
				for k := range rows {
					rows[k] = mk(g)
				}
				l, _ := LayoutOf(table)
				comp, err := NewCompressor(1)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				w := NewWriter(l, NewEncoder(comp, sh.page), &buf, Options{})
				j := newJournalRows(t, table)
				w.SetTap(j.page)
				for k := range rows {
					add(w, &rows[k])
					if g.r.IntN(every) == 0 {
						j.tailed += w.Untaken()
						w.Tail("S", j)
						if w.Untaken() != 0 {
							t.Fatalf("Untaken %d after Tail", w.Untaken())
						}
					}
					if w.Rows() >= sh.group {
						if err := w.Flush(); err != nil {
							t.Fatal(err)
						}
					}
				}
				w.Tail("S", j)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				back := got(j)
				if len(back) != len(rows) {
					t.Fatalf("journal gives %d rows, wrote %d (%d pages)", len(back), len(rows), j.pages)
				}
				for k := range rows {
					if !same(back[k], rows[k]) {
						t.Fatalf("row %d differs:\n got %+v\nwant %+v", k, back[k], rows[k])
					}
				}
				file, _ := readFile[T](t, buf.Bytes())
				if len(file) != len(rows) {
					t.Fatalf("file has %d rows, wrote %d", len(file), len(rows))
				}
			})
		}
	}
}

func TestTapQuotes(t *testing.T) {
	tapTrip(t, schema.TableQuotes, (*gen).quote, (*Writer).AppendQuote, sameQuote, func(j *journalRows) []schema.Quote { return j.quotes })
}

func TestTapDOM(t *testing.T) {
	tapTrip(t, schema.TableDOM, (*gen).dom, (*Writer).AppendDOM, sameDOM, func(j *journalRows) []schema.DOM { return j.doms })
}

func TestTapTicks(t *testing.T) {
	tapTrip(t, schema.TableTicks, (*gen).tick, (*Writer).AppendTick, sameTick, func(j *journalRows) []schema.Tick { return j.ticks })
}

func TestTapEvents(t *testing.T) {
	tapTrip(t, schema.TableEvents, (*gen).event, (*Writer).AppendEvent, sameEvent, func(j *journalRows) []schema.Event { return j.events })
}

// A page that passed its checksum but is not what it says is an error
// from Decode, not a panic.
func TestDecodePageRefusesDamage(t *testing.T) {
	l, _ := LayoutOf(schema.TableQuotes)
	comp, _ := NewCompressor(1)
	var buf bytes.Buffer
	w := NewWriter(l, NewEncoder(comp, 0), &buf, Options{})
	var pages []Page
	w.SetTap(func(p *Page) {
		cp := Page{Rows: p.Rows, Skip: p.Skip}
		for _, c := range p.Cols {
			cp.Cols = append(cp.Cols, PageColumn{Bytes: bytes.Clone(c.Bytes), Levels: c.Levels, Uncompressed: c.Uncompressed})
		}
		pages = append(pages, cp)
	})
	g := newGen(3)
	for i := 0; i < 100; i++ {
		q := g.quote()
		w.AppendQuote(&q)
	}
	w.EncodePage()
	if len(pages) != 1 {
		t.Fatalf("%d pages tapped, want 1", len(pages))
	}
	j := newJournalRows(t, schema.TableQuotes)
	for name, damage := range map[string]func(p *Page){
		"more rows":     func(p *Page) { p.Rows = 101 },
		"fewer columns": func(p *Page) { p.Cols = p.Cols[:16] },
		"skip past end": func(p *Page) { p.Skip = 200 },
		"cut bytes":     func(p *Page) { p.Cols[3].Bytes = p.Cols[3].Bytes[:len(p.Cols[3].Bytes)/2] },
		"garbage":       func(p *Page) { p.Cols[0].Bytes = bytes.Repeat([]byte{0xAB}, len(p.Cols[0].Bytes)) },
		"no rows":       func(p *Page) { p.Rows = 0 },
	} {
		p := pages[0]
		p.Cols = append([]PageColumn(nil), p.Cols...)
		damage(&p)
		if err := j.dec.Decode(schema.TableQuotes, "S", &p, j); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
	if err := j.dec.Decode(schema.TableQuotes, "S", &pages[0], j); err != nil || len(j.quotes) != 100 {
		t.Fatalf("the intact page: %v, %d rows", err, len(j.quotes))
	}
}
