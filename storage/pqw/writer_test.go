package pqw

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/mdcap/mdcap/schema"
)

// failAfter accepts n bytes, then refuses every write.
type failAfter struct {
	n   int
	buf bytes.Buffer
}

var errRefused = errors.New("refused")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.n {
		k := max(f.n-f.buf.Len(), 0)
		f.buf.Write(p[:k])
		return k, errRefused
	}
	return f.buf.Write(p)
}

// TestWriteErrorBreaksFile: a refused write is returned by Flush and by
// every later Flush and Close (the file is broken, never half-finished
// silently).
func TestWriteErrorBreaksFile(t *testing.T) {
	l, err := LayoutOf(schema.TableQuotes)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := NewCompressor(1)
	if err != nil {
		t.Fatal(err)
	}
	out := &failAfter{n: 100}
	w := NewWriter(l, NewEncoder(comp, 0), out, Options{})
	g := newGen(3)
	for range 500 {
		q := g.quote()
		w.AppendQuote(&q)
	}
	if err := w.Flush(); !errors.Is(err, errRefused) {
		t.Fatalf("Flush: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, errRefused) {
		t.Fatalf("second Flush: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errRefused) {
		t.Fatalf("Close: %v", err)
	}
	// Reset starts a good file with the same writer.
	var buf bytes.Buffer
	w.Reset(&buf)
	rows := []schema.Quote{g.quote(), g.quote()}
	for i := range rows {
		w.AppendQuote(&rows[i])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := readFile[schema.Quote](t, buf.Bytes())
	if len(got) != 2 || !sameQuote(got[0], rows[0]) || !sameQuote(got[1], rows[1]) {
		t.Fatalf("after Reset read %d rows", len(got))
	}
}

// TestBufferedAndRelease: Buffered counts the page being filled and the
// open row group's encoded pages; Flush empties it; Release drops the
// memory of an idle writer.
func TestBufferedAndRelease(t *testing.T) {
	l, _ := LayoutOf(schema.TableDOM)
	comp, _ := NewCompressor(1)
	var buf bytes.Buffer
	w := NewWriter(l, NewEncoder(comp, 100), &buf, Options{})
	g := newGen(4)
	for i := range 250 {
		d := g.dom()
		w.AppendDOM(&d)
		if w.Buffered() <= 0 || w.Rows() != i+1 {
			t.Fatalf("row %d: buffered %d, rows %d", i, w.Buffered(), w.Rows())
		}
	}
	if w.encoded == 0 || w.prows != 50 {
		t.Fatalf("after 250 rows at 100 a page: encoded %d, page rows %d", w.encoded, w.prows)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != 0 || w.Rows() != 0 || w.Size() != w.Written() {
		t.Fatalf("after Flush: buffered %d rows %d size %d written %d", w.Buffered(), w.Rows(), w.Size(), w.Written())
	}
	if w.MemBytes() == 0 {
		t.Fatal("Flush dropped the buffers (a busy writer reuses them)")
	}
	w.Release()
	if m := w.MemBytes(); m != 0 {
		t.Fatalf("%d bytes held after Release", m)
	}
	d := g.dom()
	w.AppendDOM(&d)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, f := readFile[schema.DOM](t, buf.Bytes()); len(got) != 251 || len(f.RowGroups()) != 2 {
		t.Fatalf("read %d rows in %d row groups", len(got), len(f.RowGroups()))
	}
}

// TestFootprintFollowsCapacity: row by row, Footprint (what a budget
// counts without walking the buffers) stays between half and an eighth
// more (plus 8 KiB) of the capacity the buffers really hold, for quotes
// and DOM (between measures it misses columns' buffers that doubled);
// after a page is encoded and its buffers released, and after a row
// group is written and every buffer released, it is exact.
func TestFootprintFollowsCapacity(t *testing.T) {
	comp, err := NewCompressor(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []schema.Table{schema.TableQuotes, schema.TableDOM} {
		t.Run(table.String(), func(t *testing.T) {
			l, err := LayoutOf(table)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			w := NewWriter(l, NewEncoder(comp, 0), &buf, Options{})
			g := newGen(5)
			check := func(when string) {
				t.Helper()
				f, m := w.Footprint(), int64(w.MemBytes())
				if f > m+m/8+8192 || f < m/2-8192 {
					t.Fatalf("%s: footprint %d, buffers hold %d", when, f, m)
				}
			}
			for i := range 20000 {
				if table == schema.TableQuotes {
					q := g.quote()
					w.AppendQuote(&q)
				} else {
					d := g.dom()
					w.AppendDOM(&d)
				}
				check(fmt.Sprint("row ", i))
				if i == 5000 {
					w.EncodePage()
					w.Release()
					if f, m := w.Footprint(), int64(w.MemBytes()); f != m || w.PageBytes() != 0 {
						t.Fatalf("after EncodePage and Release: footprint %d, buffers %d, page %d bytes", f, m, w.PageBytes())
					}
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			check("after Flush")
			w.Release()
			if f, m := w.Footprint(), w.MemBytes(); f != 0 || m != 0 {
				t.Fatalf("after Flush and Release: footprint %d, buffers %d", f, m)
			}
		})
	}
}
