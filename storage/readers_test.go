package storage

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/internal/readers"
	"github.com/mdcap/mdcap/schema"
)

// readerDataset writes a dataset over two UTC dates and three symbols
// (one hostile) with NULLs, empty DOM sides and NULL list elements, and
// returns its root and what it holds.
type readerCounts struct {
	quotes, quoteBidNulls, doms, ticks, events, gaps int
	perSymbolDate                                    map[string]int // "symbol|date" -> quotes
}

func readerDataset(t *testing.T) (string, readerCounts) {
	t.Helper()
	cfg := testConfig(t)
	cfg.RowGroupRows = 50
	d := openDS(t, cfg)
	c := readerCounts{perSymbolDate: map[string]int{}}
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).UnixNano()
	syms := []string{"ESZ6", "NQZ6", "a/b %x"}
	for si, sym := range syms {
		g := newQuoteGen(uint64(si))
		dg := newDOMGen(uint64(si))
		var q schema.Quote
		var dm schema.DOM
		for i := 0; i < 120; i++ {
			g.next(&q, true)
			q.RecvTS = midnight - 60e9 + int64(i)*1e9 // crosses midnight at i = 60
			if err := d.WriteQuote(sym, &q); err != nil {
				t.Fatal(err)
			}
			c.quotes++
			if q.BidPrice == nil {
				c.quoteBidNulls++
			}
			c.perSymbolDate[sym+"|"+time.Unix(0, q.RecvTS).UTC().Format(schema.DateFormat)]++
			dg.next(&dm, true)
			dm.RecvTS = q.RecvTS
			if err := d.WriteDOM(sym, &dm); err != nil {
				t.Fatal(err)
			}
			c.doms++
		}
		for i := 0; i < 30; i++ {
			tr, er := tickRow(i), eventRow(i)
			if err := d.WriteTick(sym, &tr); err != nil {
				t.Fatal(err)
			}
			if err := d.WriteEvent(sym, &er); err != nil {
				t.Fatal(err)
			}
			c.ticks++
			c.events++
			if er.GapStart != nil {
				c.gaps++
			}
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg.Root, c
}

func glob(root, table string) string {
	return fmt.Sprintf("read_parquet('%s', hive_partitioning=true)", filepath.ToSlash(filepath.Join(root, table, "**", "*.parquet")))
}

func num(t *testing.T, v any) int {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		var n int
		if _, err := fmt.Sscan(x, &n); err != nil {
			t.Fatalf("not a number: %q", x)
		}
		return n
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

func TestDuckDBReadsDataset(t *testing.T) {
	readers.Require(t)
	root, c := readerDataset(t)

	// Types as users see them: nanosecond UTC timestamps read as
	// TIMESTAMP WITH TIME ZONE; partition columns from the folders.
	res := readers.DuckDBQuery(t, "SELECT * FROM "+glob(root, "quotes")+" LIMIT 1")
	for col, want := range map[string]string{
		"recv_ts": "TIMESTAMP WITH TIME ZONE", "ts": "TIMESTAMP WITH TIME ZONE",
		"contract_id": "BIGINT", "bid_price": "DOUBLE", "total_volume": "DOUBLE",
		"settlement_price": "DOUBLE", "conn_id": "BIGINT", "seq": "BIGINT",
		"symbol": "VARCHAR", "date": "DATE",
	} {
		if got := res.Type(col); got != want {
			t.Errorf("quotes.%s: DuckDB type %q, want %q", col, got, want)
		}
	}
	if len(res.Columns) != 19 {
		t.Errorf("quotes has %d columns with partitions, want 19: %v", len(res.Columns), res.Columns)
	}

	rows := readers.DuckDB(t, "SELECT count(*) n, count(bid_price) nb, count(*) FILTER (WHERE bid_price = 0) zero FROM "+glob(root, "quotes"))
	if num(t, rows[0]["n"]) != c.quotes || num(t, rows[0]["nb"]) != c.quotes-c.quoteBidNulls || num(t, rows[0]["zero"]) != 0 {
		t.Errorf("quotes counts %v, want n=%d non-null bid=%d", rows[0], c.quotes, c.quotes-c.quoteBidNulls)
	}
	rows = readers.DuckDB(t, "SELECT symbol, strftime(date, '%Y-%m-%d') d, count(*) n, strftime(min(recv_ts)::DATE, '%Y-%m-%d') mn, strftime(max(recv_ts)::DATE, '%Y-%m-%d') mx FROM "+glob(root, "quotes")+" GROUP BY symbol, date ORDER BY symbol, date")
	if len(rows) != len(c.perSymbolDate) {
		t.Fatalf("partitions %v, want %v", rows, c.perSymbolDate)
	}
	for _, r := range rows {
		key := fmt.Sprint(r["symbol"]) + "|" + fmt.Sprint(r["d"])
		if num(t, r["n"]) != c.perSymbolDate[key] || r["mn"] != r["d"] || r["mx"] != r["d"] {
			t.Errorf("partition %s: %v (want %d rows, all within the date)", key, r, c.perSymbolDate[key])
		}
	}
	// The seq of each symbol stays strictly increasing across files.
	rows = readers.DuckDB(t, "SELECT count(*) bad FROM (SELECT seq - lag(seq) OVER (PARTITION BY symbol ORDER BY recv_ts) AS step FROM "+glob(root, "quotes")+") WHERE step <= 0")
	if num(t, rows[0]["bad"]) != 0 {
		t.Errorf("seq not increasing: %v", rows)
	}

	res = readers.DuckDBQuery(t, "SELECT * FROM "+glob(root, "dom")+" LIMIT 1")
	for _, col := range []string{"bid_prices", "bid_sizes", "ask_prices", "ask_sizes"} {
		if got := res.Type(col); got != "DOUBLE[]" {
			t.Errorf("dom.%s: %q", col, got)
		}
	}
	rows = readers.DuckDB(t, "SELECT count(*) n, count(*) FILTER (WHERE len(ask_prices) = 0) empty_asks, count(*) FILTER (WHERE ask_prices IS NULL) null_lists, count(*) FILTER (WHERE bid_sizes[4] IS NULL) null_elems, min(len(bid_prices)) minlen, count(*) FILTER (WHERE bid_prices[1] <= bid_prices[2]) unordered FROM "+glob(root, "dom"))
	r := rows[0]
	if num(t, r["n"]) != c.doms || num(t, r["empty_asks"]) == 0 || num(t, r["null_lists"]) != 0 || num(t, r["null_elems"]) == 0 || num(t, r["minlen"]) != 10 || num(t, r["unordered"]) != 0 {
		t.Errorf("dom: %v", r)
	}

	rows = readers.DuckDB(t, "SELECT count(*) n, count(gap_start) gaps, count(*) FILTER (WHERE kind = 'gap' AND gap_end > gap_start AND reason = 'eof') good, typeof(any_value(gap_start)) tg FROM "+glob(root, "events"))
	if num(t, rows[0]["n"]) != c.events || num(t, rows[0]["gaps"]) != c.gaps || num(t, rows[0]["good"]) != c.gaps || rows[0]["tg"] != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("events: %v", rows[0])
	}
	rows = readers.DuckDB(t, "SELECT count(*) n, count(bid_price) nb, count(*) FILTER (WHERE source = 'backfill') bf FROM "+glob(root, "ticks"))
	if num(t, rows[0]["n"]) != c.ticks || num(t, rows[0]["nb"]) != c.ticks/2 || num(t, rows[0]["bf"]) != 9 {
		t.Errorf("ticks: %v", rows[0])
	}
	// A row as a user would print it: nanosecond UTC times shown with
	// microsecond precision in UTC.
	rows = readers.DuckDB(t, "SELECT recv_ts::VARCHAR r FROM "+glob(root, "quotes")+" WHERE symbol = 'ESZ6' ORDER BY recv_ts LIMIT 1")
	if got := fmt.Sprint(rows[0]["r"]); !strings.HasPrefix(got, "2026-11-25 23:59:00") || !strings.HasSuffix(got, "+00") {
		t.Errorf("recv_ts shown as %q", got)
	}
}

func TestArrowReadsDataset(t *testing.T) {
	readers.Require(t)
	root, c := readerDataset(t)
	s := readers.Arrow(t, filepath.Join(root, "quotes"), 2)
	if s.Rows != int64(c.quotes) || s.Nulls["bid_price"] != int64(c.quoteBidNulls) || s.Nulls["recv_ts"] != 0 {
		t.Fatalf("arrow: rows %d nulls %v, want %d rows, %d NULL bids", s.Rows, s.Nulls, c.quotes, c.quoteBidNulls)
	}
	types := map[string]string{}
	for _, f := range s.Schema {
		types[f.Name] = f.Type
	}
	if !strings.Contains(types["recv_ts"], "Timestamp") || !strings.Contains(types["recv_ts"], "NANOSECOND") || !strings.Contains(types["recv_ts"], "UTC") {
		t.Errorf("recv_ts as Arrow type %q", types["recv_ts"])
	}
	if types["bid_price"] != "Float64" || types["seq"] != "Int64" {
		t.Errorf("arrow types %v", types)
	}
	if _, ok := types["symbol"]; ok {
		t.Error("symbol stored inside the files: partition columns must live in folder names only")
	}
	if _, ok := types["date"]; ok {
		t.Error("date stored inside the files")
	}
	syms := strings.Join(s.Partitions["symbol"], ",")
	if !strings.Contains(syms, "a/b %x") || len(s.Partitions["date"]) != 2 {
		t.Errorf("partitions %v", s.Partitions)
	}
	d := readers.Arrow(t, filepath.Join(root, "dom"), 1)
	if d.Rows != int64(c.doms) || len(d.Head) != 1 {
		t.Fatalf("arrow dom: %+v", d)
	}
	if bp, ok := d.Head[0]["bid_prices"].([]any); !ok || len(bp) != 10 {
		t.Errorf("arrow dom head: %v", d.Head[0])
	}
}

// Two recorders write the same root at once (same symbols, same date):
// every row of both is read back once by DuckDB, and each file belongs
// to one writer.
func TestTwoWritersShareRoot(t *testing.T) {
	root := t.TempDir()
	const n = 700
	errs := make(chan error, 2)
	for _, w := range []string{"host-a", "host-b"} {
		go func(w string) {
			d, err := Open(Config{Root: root, WriterID: w, RollSize: 16 << 10, Logger: cfgLogger()})
			if err != nil {
				errs <- err
				return
			}
			g := newQuoteGen(uint64(len(w)))
			var q schema.Quote
			for i := 0; i < n; i++ {
				g.next(&q, true)
				for _, s := range []string{"ESZ6", "NQZ6"} {
					if err := d.WriteQuote(s, &q); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- d.Close()
		}(w)
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	entries, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	perWriter := map[string]int{}
	for _, e := range entries {
		if !e.NameOK || e.Temp {
			t.Fatalf("entry %+v", e)
		}
		perWriter[e.WriterID]++
	}
	if perWriter["host-a"] < 2 || perWriter["host-b"] < 2 {
		t.Fatalf("files per writer %v", perWriter)
	}
	readers.Require(t)
	rows := readers.DuckDB(t, "SELECT count(*) n, count(DISTINCT filename) files FROM read_parquet('"+filepath.ToSlash(filepath.Join(root, "quotes", "**", "*.parquet"))+"', hive_partitioning=true, filename=true)")
	if num(t, rows[0]["n"]) != 4*n || num(t, rows[0]["files"]) != len(entries) {
		t.Fatalf("duckdb: %v, want %d rows in %d files", rows[0], 4*n, len(entries))
	}
}
