package storage

import (
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage/pqw"
)

// Tap sees the pages the open files of a Dataset encode, as they are cut:
// a write-ahead journal keeps them instead of copying every row. Page is
// called on the Dataset's goroutine during the call that cut the pages (a
// Write, Roll or Close) and must not call the Dataset; the Page and its
// bytes are valid during the call only. file is the file's number (see
// OldestUnfinished). The rows of a file abandoned with rows in no page
// yet are passed to the RowVisitor methods the same way.
type Tap interface {
	Page(file uint64, t schema.Table, symbol string, p *pqw.Page)
	pqw.RowVisitor
}

// SetTap has tap see the pages of the files open now and of those opened
// later (nil: none). To see every row, set it before the first Write.
func (d *Dataset) SetTap(tap Tap) {
	d.tap = tap
	for pf := d.head; pf != nil; pf = pf.next {
		d.tapFile(pf)
	}
}

func (d *Dataset) tapFile(pf *partFile) {
	if pf.sink == nil {
		return
	}
	if d.tap == nil {
		pf.sink.SetTap(nil)
		return
	}
	tap, id, t, sym := d.tap, pf.id, pf.table, pf.symbol
	pf.sink.SetTap(func(p *pqw.Page) { tap.Page(id, t, sym, p) })
}

// Tails passes to v the rows the open files hold that neither a page cut
// nor an earlier Tails passed on: with the pages, a journal then holds
// every row written so far.
func (d *Dataset) Tails(v pqw.RowVisitor) {
	for pf := d.head; pf != nil; pf = pf.next {
		if pf.sink != nil && pf.sink.Untaken() > 0 {
			pf.sink.Tail(pf.symbol, v)
		}
	}
}
