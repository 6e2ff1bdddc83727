package pqw

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mdcap/mdcap/internal/readers"
	"github.com/mdcap/mdcap/schema"
)

// The DuckDB tests read pqw files as users do and compare every value
// bit for bit (doubles as DuckDB prints them, parsed back), and run
// filters DuckDB answers with the row groups' statistics: a wrong bound
// would prune a row group that holds matches and lose rows.

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sane keeps the timestamps inside DuckDB's range and makes seq
// increasing, so that row groups cover disjoint seq ranges.
func saneQuotes(n int) []schema.Quote {
	g := newGen(77)
	rows := make([]schema.Quote, n)
	ts := int64(1_780_000_000_000_000_000)
	for i := range rows {
		rows[i] = g.quote()
		ts += g.r.Int64N(1e9)
		rows[i].RecvTS, rows[i].TS, rows[i].Seq = ts, ts-g.r.Int64N(1e6), int64(i+1)
	}
	return rows
}

func parseDouble(t *testing.T, v any) *float64 {
	t.Helper()
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("double as %T %v", v, v)
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("double %q: %v", s, err)
	}
	return &x
}

func parseInt(t *testing.T, v any) int64 {
	t.Helper()
	s := fmt.Sprint(v)
	x, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("int %q: %v", s, err)
	}
	return x
}

func TestDuckDBReadsQuotes(t *testing.T) {
	readers.Require(t)
	rows := saneQuotes(3000)
	path := writeTemp(t, "q.parquet", writeFile(t, schema.TableQuotes, rows, 300, 50, (*Writer).AppendQuote))
	src := fmt.Sprintf("read_parquet('%s', file_row_number=true)", filepath.ToSlash(path))
	cols := []string{"bid_price", "bid_size", "ask_price", "ask_size", "trade_price", "trade_size", "total_volume", "open_interest", "open_price", "high_price", "low_price", "settlement_price"}
	sel := "epoch_ns(recv_ts)::VARCHAR recv, epoch_ns(ts)::VARCHAR ts, contract_id::VARCHAR cid, conn_id::VARCHAR conn, seq::VARCHAR seq"
	for _, c := range cols {
		sel += ", " + c + "::VARCHAR " + c
	}
	got := readers.DuckDB(t, "SELECT "+sel+" FROM "+src+" ORDER BY file_row_number")
	if len(got) != len(rows) {
		t.Fatalf("DuckDB read %d rows, wrote %d", len(got), len(rows))
	}
	for i, r := range got {
		w := rows[i]
		q := schema.Quote{RecvTS: parseInt(t, r["recv"]), TS: parseInt(t, r["ts"]), ContractID: parseInt(t, r["cid"]), ConnID: parseInt(t, r["conn"]), Seq: parseInt(t, r["seq"])}
		ptrs := []**float64{&q.BidPrice, &q.BidSize, &q.AskPrice, &q.AskSize, &q.TradePrice, &q.TradeSize, &q.TotalVolume, &q.OpenInterest, &q.OpenPrice, &q.HighPrice, &q.LowPrice, &q.SettlementPrice}
		for k, c := range cols {
			*ptrs[k] = parseDouble(t, r[c])
		}
		// DuckDB reads TIMESTAMP(NANOS, UTC) as TIMESTAMP WITH TIME
		// ZONE, whose unit is the microsecond.
		w.RecvTS -= w.RecvTS % 1000
		w.TS -= w.TS % 1000
		if !sameQuote(q, w) {
			t.Fatalf("row %d: DuckDB %+v\nwrote %+v", i, r, w)
		}
	}
	// Filters DuckDB prunes row groups for, against the rows in Go.
	filters := []struct {
		where string
		match func(q schema.Quote) bool
	}{
		{"seq BETWEEN 1234 AND 1300", func(q schema.Quote) bool { return q.Seq >= 1234 && q.Seq <= 1300 }},
		{"seq > 2990", func(q schema.Quote) bool { return q.Seq > 2990 }},
		{"recv_ts >= (SELECT max(recv_ts) FROM " + src + ") - INTERVAL 10 MINUTE", nil},
		{"bid_price > 1000", func(q schema.Quote) bool {
			return q.BidPrice != nil && (*q.BidPrice > 1000 || math.IsNaN(*q.BidPrice)) // DuckDB orders NaN above all
		}},
		{"ask_size < -1000", func(q schema.Quote) bool { return q.AskSize != nil && *q.AskSize < -1000 }},
		{"contract_id = " + strconv.FormatInt(rows[2500].ContractID, 10), func(q schema.Quote) bool { return q.ContractID == rows[2500].ContractID }},
		{"settlement_price IS NULL", func(q schema.Quote) bool { return q.SettlementPrice == nil }},
	}
	// One DuckDB run: a UNION ALL of counts, each with its own WHERE
	// (pushed down to the row groups' statistics).
	var sql string
	for i, f := range filters {
		if i > 0 {
			sql += " UNION ALL "
		}
		sql += fmt.Sprintf("SELECT %d i, count(*)::VARCHAR n FROM %s WHERE %s", i, src, f.where)
	}
	res := readers.DuckDB(t, sql+" ORDER BY i")
	if len(res) != len(filters) {
		t.Fatalf("DuckDB answered %d counts of %d", len(res), len(filters))
	}
	for i, f := range filters {
		if f.match == nil {
			last := rows[len(rows)-1].RecvTS
			f.match = func(q schema.Quote) bool { return q.RecvTS >= last-600e9 }
		}
		want := 0
		for _, q := range rows {
			if f.match(q) {
				want++
			}
		}
		if n := parseInt(t, res[i]["n"]); n != int64(want) {
			t.Errorf("WHERE %s: DuckDB counts %d rows, want %d", f.where, n, want)
		}
	}
}

func TestDuckDBReadsDOM(t *testing.T) {
	readers.Require(t)
	g := newGen(5)
	rows := make([]schema.DOM, 1500)
	for i := range rows {
		rows[i] = g.dom()
		rows[i].RecvTS, rows[i].TS, rows[i].Seq = 1_780_000_000_000_000_000+int64(i)*1e6, 1_780_000_000_000_000_000+int64(i)*1e6, int64(i+1)
	}
	path := writeTemp(t, "d.parquet", writeFile(t, schema.TableDOM, rows, 200, 64, (*Writer).AppendDOM))
	src := fmt.Sprintf("read_parquet('%s', file_row_number=true)", filepath.ToSlash(path))
	lists := []string{"bid_prices", "bid_sizes", "ask_prices", "ask_sizes"}
	sel := "seq::VARCHAR seq, contract_id::VARCHAR cid, conn_id::VARCHAR conn"
	for _, c := range lists {
		sel += ", list_transform(" + c + ", x -> x::VARCHAR) " + c
	}
	got := readers.DuckDB(t, "SELECT "+sel+" FROM "+src+" ORDER BY file_row_number")
	if len(got) != len(rows) {
		t.Fatalf("DuckDB read %d rows, wrote %d", len(got), len(rows))
	}
	for i, r := range got {
		w := rows[i]
		d := schema.DOM{RecvTS: w.RecvTS, TS: w.TS, Seq: parseInt(t, r["seq"]), ContractID: parseInt(t, r["cid"]), ConnID: parseInt(t, r["conn"])}
		ptrs := []*[]*float64{&d.BidPrices, &d.BidSizes, &d.AskPrices, &d.AskSizes}
		for k, c := range lists {
			arr, ok := r[c].([]any)
			if !ok {
				t.Fatalf("row %d %s: %T %v (a list is never NULL)", i, c, r[c], r[c])
			}
			for _, v := range arr {
				*ptrs[k] = append(*ptrs[k], parseDouble(t, v))
			}
		}
		if !sameDOM(d, w) {
			t.Fatalf("row %d: DuckDB %+v\nwrote %+v", i, r, w)
		}
	}
	want := 0
	for _, d := range rows {
		if d.Seq >= 700 && d.Seq < 760 {
			want += len(d.BidPrices)
		}
	}
	res := readers.DuckDB(t, "SELECT sum(len(bid_prices))::VARCHAR n FROM "+src+" WHERE seq >= 700 AND seq < 760")
	if n := parseInt(t, res[0]["n"]); n != int64(want) {
		t.Errorf("bid levels of seq 700-759: DuckDB %d, want %d", n, want)
	}
}
