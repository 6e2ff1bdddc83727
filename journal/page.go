package journal

import (
	"encoding/binary"
	"fmt"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage/pqw"
)

// Most rows reach the journal as the pages the dataset's column writer
// encodes for its files anyway (storage.Tap): a page is a few compressed
// bytes per row, copied once, so journaling costs the writer nearly
// nothing per row. Only the rows a file holds that are not in a page yet
// are copied row by row (its tail, taken at each Sync and roll). A page
// record says how many of its first rows were already journaled that way
// (Skip); recovery decodes the page and replays the rest.
//
// A record of kind recPage is: table, rows, skip, the number of columns,
// then per column its levels, its uncompressed size, the length of its
// bytes and the bytes (page header, levels, compressed values as the
// file holds them).
const recPage byte = 7

// chunkBlob is the page bytes a chunk takes before it is handed over (a
// page may take it past that: the blob grows for it and is dropped at
// the next reset when far larger).
const chunkBlob = 256 << 10

// maxPageCols bounds the columns a page record may have (the widest
// table has 17).
const maxPageCols = 64

// AppendPage journals the rows of a page a dataset file cut past those
// already journaled from the file's tail (p.Skip).
func (j *Journal) AppendPage(sym string, t schema.Table, p *pqw.Page) {
	if p.Skip >= p.Rows {
		return
	}
	c := j.cur
	x := c.next()
	x.sym = j.syms.index(sym, c)
	c.copyPage(x, t, p)
	j.pageRows += int64(p.Rows - p.Skip)
	j.records += int64(p.Rows-p.Skip) - 1 // appended counts one
	j.appended()
}

// copyPage copies a page into the chunk's blob, as its record will hold
// it after the table, rows and skip.
func (c *chunk) copyPage(r *rec, t schema.Table, p *pqw.Page) {
	r.kind = recPage
	r.mask = 0
	r.i = [5]int64{int64(t), int64(p.Rows), int64(p.Skip)}
	r.off = int32(len(c.blob))
	c.blob = binary.AppendUvarint(c.blob, uint64(len(p.Cols)))
	for _, col := range p.Cols {
		c.blob = binary.AppendUvarint(c.blob, uint64(col.Levels))
		c.blob = binary.AppendUvarint(c.blob, uint64(col.Uncompressed))
		c.blob = binary.AppendUvarint(c.blob, uint64(len(col.Bytes)))
		c.blob = append(c.blob, col.Bytes...)
	}
	r.aux = int32(len(c.blob))
}

// pageRec writes a page record the writer copied into c (flusher).
func (e *encoder) pageRec(r *rec, c *chunk) {
	e.b = binary.AppendUvarint(e.b, uint64(r.i[0]))
	e.b = binary.AppendUvarint(e.b, uint64(r.i[1]))
	e.b = binary.AppendUvarint(e.b, uint64(r.i[2]))
	e.b = append(e.b, c.blob[r.off:r.aux]...)
}

// page decodes a page record into its rows past skip (the first is
// returned, the others queued).
func (d *decoder) page(sym string) (Record, bool) {
	t := schema.Table(d.uvarint())
	rows, skip, n := d.uvarint(), d.uvarint(), d.uvarint()
	if d.err != nil || t >= schema.NumTables || n > maxPageCols || rows > pqw.MaxPageRows || skip >= rows {
		d.fail()
		return Record{}, false
	}
	p := pqw.Page{Rows: int(rows), Skip: int(skip), Cols: make([]pqw.PageColumn, n)}
	for i := range p.Cols {
		lv, unc, l := d.uvarint(), d.uvarint(), d.uvarint()
		if d.err != nil || l > uint64(len(d.b)) || lv > pqw.MaxPageLevels || unc > 1<<40 {
			d.fail()
			return Record{}, false
		}
		p.Cols[i] = pqw.PageColumn{Levels: int64(lv), Uncompressed: int64(unc), Bytes: d.b[:l:l]}
		d.b = d.b[l:]
	}
	if d.pages == nil {
		pd, err := pqw.NewPageDecoder()
		if err != nil {
			d.err = err
			return Record{}, false
		}
		d.pages = pd
	}
	var rr pageRows
	if err := d.pages.Decode(t, sym, &p, &rr); err != nil {
		d.err = fmt.Errorf("%w: %v", errDecode, err)
		return Record{}, false
	}
	if len(rr.recs) == 0 {
		d.fail()
		return Record{}, false
	}
	d.queue = rr.recs[1:]
	return rr.recs[0], true
}

// closePages releases the page decoder the decoder made, if any.
func (d *decoder) closePages() {
	if d.pages != nil {
		d.pages.Close()
		d.pages = nil
	}
}

// pageRows collects copies of the rows a PageDecoder passes.
type pageRows struct{ recs []Record }

func (p *pageRows) Quote(sym string, r *schema.Quote) {
	q := *r
	for _, f := range []**float64{&q.BidPrice, &q.BidSize, &q.AskPrice, &q.AskSize, &q.TradePrice, &q.TradeSize,
		&q.TotalVolume, &q.OpenInterest, &q.OpenPrice, &q.HighPrice, &q.LowPrice, &q.SettlementPrice} {
		*f = cloneF(*f)
	}
	p.recs = append(p.recs, Record{Table: schema.TableQuotes, Symbol: sym, Quote: &q})
}

func (p *pageRows) DOM(sym string, r *schema.DOM) {
	d := *r
	d.BidPrices, d.BidSizes, d.AskPrices, d.AskSizes = cloneList(d.BidPrices), cloneList(d.BidSizes),
		cloneList(d.AskPrices), cloneList(d.AskSizes)
	p.recs = append(p.recs, Record{Table: schema.TableDOM, Symbol: sym, DOM: &d})
}

func (p *pageRows) Tick(sym string, r *schema.Tick) {
	t := *r
	t.BidPrice, t.AskPrice, t.BidSize, t.AskSize = cloneF(t.BidPrice), cloneF(t.AskPrice), cloneF(t.BidSize), cloneF(t.AskSize)
	p.recs = append(p.recs, Record{Table: schema.TableTicks, Symbol: sym, Tick: &t})
}

func (p *pageRows) Event(sym string, r *schema.Event) {
	e := *r
	if e.GapStart != nil {
		v := *e.GapStart
		e.GapStart = &v
	}
	if e.GapEnd != nil {
		v := *e.GapEnd
		e.GapEnd = &v
	}
	p.recs = append(p.recs, Record{Table: schema.TableEvents, Symbol: sym, Event: &e})
}

func cloneF(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneList copies a list and its values into one allocation.
func cloneList(l []*float64) []*float64 {
	if len(l) == 0 {
		return nil
	}
	vals := make([]float64, len(l))
	out := make([]*float64, len(l))
	for i, p := range l {
		if p != nil {
			vals[i] = *p
			out[i] = &vals[i]
		}
	}
	return out
}

// tailRows journals the rows of the files' tails (storage.Dataset.Tails):
// each is copied into the chunk as the writer's rows used to be.
type tailRows struct{ j *Journal }

func (t tailRows) Quote(sym string, r *schema.Quote) { t.j.AppendQuote(sym, r) }
func (t tailRows) DOM(sym string, r *schema.DOM)     { t.j.AppendDOM(sym, r) }
func (t tailRows) Tick(sym string, r *schema.Tick)   { t.j.AppendTick(sym, r) }
func (t tailRows) Event(sym string, r *schema.Event) { t.j.AppendEvent(sym, r) }
