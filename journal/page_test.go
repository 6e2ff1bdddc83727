package journal

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
	"github.com/mdcap/mdcap/storage/pqw"
)

// Rows reach the journal with the pages their files cut, before any
// Sync: only the rows not in a page yet wait for it, and a crash right
// after the Sync loses none.
func TestSink_PagesCarryRowsAndTailsTheRest(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{}) // a row group (so a page) every 64 rows
	r.quotes(100, "ESZ6")                       // one page of 64 cut, 36 rows in the tail
	if r.j.pageRows != 64 || r.j.records != 64 {
		t.Fatalf("before Sync: %d rows journaled, %d as pages; want the page's 64", r.j.records, r.j.pageRows)
	}
	if err := r.j.Sync(); err != nil {
		t.Fatal(err)
	}
	if r.j.records != 100 {
		t.Fatalf("after Sync: %d rows journaled, want 100", r.j.records)
	}
	// The next page holds the 36 rows already journaled from the tail:
	// its record carries only the 28 new ones.
	r.quotes(28, "ESZ6")
	if r.j.pageRows != 64+28 || r.j.records != 128 {
		t.Fatalf("after the second page: %d rows journaled, %d as pages; want 128 and 92", r.j.records, r.j.pageRows)
	}
	r.quotes(10, "ESZ6")
	if err := r.j.Sync(); err != nil {
		t.Fatal(err)
	}
	r.quotes(5, "ESZ6") // written after the last Sync: lost with the crash
	// kill -9
	res := recoverAll(t, root, nil, "ESZ6")
	if res.Replayed != 138 || res.Duplicates != 0 {
		t.Fatalf("recovered %+v, want 138 rows replayed, none twice", res)
	}
	checkQuotes(t, root, "ESZ6", 138)
	if len(res.Gaps) != 1 || res.Gaps[0].Start != r.recv-5*int64(time.Millisecond) {
		t.Errorf("gaps %+v, want one from the last durable row", res.Gaps)
	}
}

// Every table goes through pages and tails: a crash replays ticks, DOM
// rows and events too, each once.
func TestSink_EveryTableThroughPages(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.event("ESZ6", schema.KindStart)
	for i := 1; i <= 150; i++ {
		r.recv += int64(time.Millisecond)
		d := schema.DOM{RecvTS: r.recv, TS: r.recv, Seq: int64(i), BidPrices: []*float64{f64(6000), nil, f64(5999.5)},
			AskSizes: []*float64{}}
		if err := r.s.WriteDOM("ESZ6", &d); err != nil {
			t.Fatal(err)
		}
		tk := schema.Tick{RecvTS: r.recv, TickID: int64(i), Price: 6000.25, Size: 1, AskPrice: f64(6000.5), Source: "live"}
		if err := r.s.WriteTick("ESZ6", &tk); err != nil {
			t.Fatal(err)
		}
		if i%70 == 0 {
			if err := r.j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.j.Sync(); err != nil {
		t.Fatal(err)
	}
	if r.j.pageRows == 0 || r.j.pageRows == r.j.records {
		t.Fatalf("%d of %d rows journaled as pages: want both pages and tails", r.j.pageRows, r.j.records)
	}
	res := recoverAll(t, root, nil, "ESZ6")
	if res.Replayed != 301 || res.Duplicates != 0 {
		t.Fatalf("recovered %+v, want 301 rows", res)
	}
	d := checkQuotes(t, root, "ESZ6", 0)
	var ticks []schema.Tick
	for _, f := range d.Files {
		if strings.Contains(f, string(filepath.Separator)+schema.TableTicks.String()+string(filepath.Separator)) {
			rows, err := parquet.ReadFile[schema.Tick](f)
			if err != nil {
				t.Fatal(err)
			}
			ticks = append(ticks, rows...)
		}
	}
	if len(d.DOMs["ESZ6"]) != 150 || len(ticks) != 150 {
		t.Fatalf("%d DOM rows and %d ticks, want 150 each", len(d.DOMs["ESZ6"]), len(ticks))
	}
	for i, m := range d.DOMs["ESZ6"] {
		if m.Seq != int64(i+1) || len(m.BidPrices) != 3 || m.BidPrices[1] != nil || *m.BidPrices[2] != 5999.5 || len(m.AskSizes) != 0 {
			t.Fatalf("DOM row %d: %+v", i, m)
		}
	}
	for i, tk := range ticks {
		if tk.TickID != int64(i+1) || tk.AskPrice == nil || *tk.AskPrice != 6000.5 || tk.BidPrice != nil || tk.Source != "live" {
			t.Fatalf("tick %d: %+v", i, tk)
		}
	}
	if n := len(d.Kind("ESZ6", schema.KindStart)); n != 1 {
		t.Errorf("%d start rows, want 1", n)
	}
}

// pageRecordBlock is a block holding one page record of n quotes of sym,
// encoded as the flusher does.
func pageRecordBlock(t testing.TB, sym string, n int) []byte {
	l, err := pqw.LayoutOf(schema.TableQuotes)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := pqw.NewCompressor(1)
	if err != nil {
		t.Fatal(err)
	}
	w := pqw.NewWriter(l, pqw.NewEncoder(comp, 0), io.Discard, pqw.Options{})
	var e encoder
	w.SetTap(func(p *pqw.Page) {
		c := newChunk()
		r := c.next()
		c.copyPage(r, schema.TableQuotes, p)
		e.record(r, sym, c)
	})
	for i := 1; i <= n; i++ {
		w.AppendQuote(&schema.Quote{RecvTS: int64(i), Seq: int64(i), BidPrice: f64(6000 + float64(i%4)*0.25)})
	}
	w.EncodePage()
	return bytes.Clone(e.b)
}

// A page record decodes into its rows; cut short or with a byte changed
// it is malformed (a frame taken whole or not at all), never a panic.
func TestCodec_PageRecord(t *testing.T) {
	b := pageRecordBlock(t, "ESZ6", 40)
	d := decoder{b: b}
	defer d.closePages()
	n := 0
	for {
		r, ok := d.next()
		if !ok {
			break
		}
		n++
		if r.Symbol != "ESZ6" || r.Quote == nil || r.Quote.Seq != int64(n) {
			t.Fatalf("record %d: %+v", n, r)
		}
	}
	if d.err != nil || n != 40 {
		t.Fatalf("%d records, err %v; want 40", n, d.err)
	}
	for _, bad := range [][]byte{b[:len(b)-1], b[:len(b)/2], append(bytes.Clone(b[:len(b)-20]), bytes.Repeat([]byte{7}, 20)...)} {
		d := decoder{b: bad}
		defer d.closePages()
		for {
			if _, ok := d.next(); !ok {
				break
			}
		}
		if d.err == nil {
			t.Errorf("a damaged page record (%d of %d bytes) decoded", len(bad), len(b))
		}
	}
}
