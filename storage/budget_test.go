package storage

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// TestBufferedBudget: with many open files the memory their buffers hold
// stays under MaxBufferedBytes as counted (footprints), and within an
// eighth more as measured (capacity of every buffer, the slack the count
// does not see between measures); the largest files shed pages and row
// groups; every row still reads back in order, and no row group exceeds
// RowGroupRows.
func TestBufferedBudget(t *testing.T) {
	cfg := testConfig(t)
	cfg.RowGroupRows = 1000
	cfg.MaxBufferedBytes = 64 << 10
	d := openDS(t, cfg)
	const syms, perSym = 40, 300
	want := map[string][]schema.Quote{}
	gens := make([]*quoteGen, syms)
	for s := range gens {
		gens[s] = newQuoteGen(uint64(s))
	}
	var q schema.Quote
	var peak int64
	for i := 0; i < perSym; i++ {
		for s := 0; s < syms; s++ {
			sym := fmt.Sprintf("S%02d", s)
			gens[s].next(&q, true)
			want[sym] = append(want[sym], deepQuote(q))
			if err := d.WriteQuote(sym, &q); err != nil {
				t.Fatal(err)
			}
			var sum, mem int64
			for pf := d.head; pf != nil; pf = pf.next {
				sum += pf.sink.Footprint()
				mem += int64(pf.sink.MemBytes())
			}
			if sum > cfg.MaxBufferedBytes || sum != d.buffered {
				t.Fatalf("row %d of %s: footprints %d bytes (counted %d), budget %d", i, sym, sum, d.buffered, cfg.MaxBufferedBytes)
			}
			if mem > cfg.MaxBufferedBytes*9/8 {
				t.Fatalf("row %d of %s: buffers hold %d bytes, budget %d", i, sym, mem, cfg.MaxBufferedBytes)
			}
			peak = max(peak, sum)
		}
	}
	st := d.Stats()
	if st.PagesShed == 0 || st.RowGroupsShed == 0 {
		t.Fatalf("pages or row groups not shed: %+v", st)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if peak < cfg.MaxBufferedBytes/2 {
		t.Errorf("peak %d bytes buffered: the budget %d sheds too early", peak, cfg.MaxBufferedBytes)
	}
	for s := 0; s < syms; s++ {
		sym := fmt.Sprintf("S%02d", s)
		files := parquetFilesOf(t, cfg.Root, "quotes", sym)
		got := readAll[schema.Quote](t, files)
		if !reflect.DeepEqual(got, want[sym]) {
			t.Fatalf("%s: read %d rows back, wrote %d (or they differ)", sym, len(got), len(want[sym]))
		}
		for _, f := range files {
			pf, err := OpenParquet(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, rg := range pf.Metadata().RowGroups {
				if rg.NumRows > int64(cfg.RowGroupRows) || rg.NumRows == 0 {
					t.Errorf("%s: row group of %d rows", f, rg.NumRows)
				}
			}
			pf.Close()
		}
	}
}

// TestFewFilesKeepFullRowGroups: under the budget nothing is shed and
// every row group but a file's last holds RowGroupRows rows.
func TestFewFilesKeepFullRowGroups(t *testing.T) {
	cfg := testConfig(t)
	cfg.RowGroupRows = 500
	d := openDS(t, cfg)
	var dm schema.DOM
	var q schema.Quote
	dg, qg := newDOMGen(3), newQuoteGen(4)
	for i := 0; i < 2300; i++ {
		dg.next(&dm, true)
		qg.next(&q, true)
		if err := d.WriteDOM("ESZ6", &dm); err != nil {
			t.Fatal(err)
		}
		if err := d.WriteQuote("ESZ6", &q); err != nil {
			t.Fatal(err)
		}
	}
	if st := d.Stats(); st.RowGroupsShed != 0 || st.BufferedBytes <= 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.BufferedBytes != 0 {
		t.Errorf("%d bytes buffered after Close", st.BufferedBytes)
	}
	for _, table := range []string{"quotes", "dom"} {
		files := parquetFiles(t, cfg.Root, table)
		if len(files) != 1 {
			t.Fatalf("%s: %d files", table, len(files))
		}
		pf, err := OpenParquet(files[0])
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int64
		for _, rg := range pf.Metadata().RowGroups {
			sizes = append(sizes, rg.NumRows)
		}
		pf.Close()
		if !reflect.DeepEqual(sizes, []int64{500, 500, 500, 500, 300}) {
			t.Errorf("%s: row groups %v", table, sizes)
		}
	}
}

// TestPooledWriterDropsBigBuffers: a file finalised after a full row
// group leaves its writer in the pool without a row group's worth of
// memory, and the next file of the table writes correctly with it.
func TestPooledWriterDropsBigBuffers(t *testing.T) {
	cfg := testConfig(t)
	cfg.RowGroupRows = 4000
	d := openDS(t, cfg)
	g := newQuoteGen(9)
	var q schema.Quote
	write := func(sym string, n int) {
		for i := 0; i < n; i++ {
			g.next(&q, true)
			if err := d.WriteQuote(sym, &q); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("ESZ6", 3000)
	if err := d.Roll(time.Now().Add(DefaultRollInterval)); err != nil {
		t.Fatal(err)
	}
	pool := d.pool[schema.TableQuotes]
	if len(pool) != 1 || pool[0].MemBytes() > pooledBufferBytes {
		t.Fatalf("pool %d writers, first holds %d bytes", len(pool), pool[0].MemBytes())
	}
	write("NQZ6", 10)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll[schema.Quote](t, parquetFilesOf(t, cfg.Root, "quotes", "NQZ6")); len(got) != 10 {
		t.Fatalf("NQZ6: %d rows", len(got))
	}
}

func parquetFilesOf(t testing.TB, root, table, symbol string) []string {
	t.Helper()
	var out []string
	for _, f := range parquetFiles(t, root, table) {
		if strings.Contains(filepath.ToSlash(f), "/symbol="+symbol+"/") {
			out = append(out, f)
		}
	}
	return out
}
