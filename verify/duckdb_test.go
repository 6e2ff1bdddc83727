package verify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/internal/readers"
	"github.com/mdcap/mdcap/schema"
)

// TestRun_AgreesWithDuckDB checks verify's figures against DuckDB reading
// the same files as users do: rows, first and last recv_ts per table,
// symbol and date, and the number of gap rows.
func TestRun_AgreesWithDuckDB(t *testing.T) {
	readers.Require(t)
	f := newFixture(t)
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rel := func(d time.Duration) int64 { return midnight.Add(d).UnixNano() }
	series := func(a, b, step time.Duration) []int64 {
		var out []int64
		for d := a; d <= b; d += step {
			out = append(out, rel(d))
		}
		return out
	}
	for i, sym := range []string{"ESZ6", "NQ Z6/%", "CLZ6"} {
		off := time.Duration(i) * 250 * time.Millisecond
		f.quotes(sym, series(-20*time.Minute+off, -time.Second, 700*time.Millisecond)...)
		f.quotes(sym, series(off, 20*time.Minute, 900*time.Millisecond)...)
		f.dom(sym, series(-10*time.Minute+off, -2*time.Second, 3*time.Second)...)
		f.ticks(sym, series(5*time.Second+off, 3*time.Minute, 1100*time.Millisecond)...)
		f.events(sym, ev(schema.KindStart, "r1", rel(-20*time.Minute)),
			gapEv("r1", schema.ReasonEOF, rel(-5*time.Minute), rel(-6*time.Minute), rel(-5*time.Minute), ""))
		f.events(sym, gapEv("r1", schema.ReasonStale, rel(time.Minute), rel(30*time.Second), rel(time.Minute), ""),
			ev(schema.KindStop, "r1", rel(20*time.Minute)))
	}
	rep := mustRun(t, testConfig(f.root))

	var parts []string
	for _, table := range []string{"quotes", "dom", "ticks", "events"} {
		parts = append(parts, fmt.Sprintf(`SELECT '%s' AS tbl, symbol, CAST(date AS VARCHAR) AS date, count(*) AS n,
			CAST(epoch_us(min(recv_ts)) AS VARCHAR) AS lo, CAST(epoch_us(max(recv_ts)) AS VARCHAR) AS hi
			FROM read_parquet('%s/%s/**/*.parquet', hive_partitioning = true) GROUP BY ALL`, table, f.root, table))
	}
	rows := readers.DuckDB(t, strings.Join(parts, " UNION ALL "))
	perTable := map[string]int{}
	for _, r := range rows {
		table := fmt.Sprint(r["tbl"])
		perTable[table]++
		d := findDay(t, findSymbol(t, rep, fmt.Sprint(r["symbol"])), fmt.Sprint(r["date"]))
		tr := d.Tables[table]
		got := fmt.Sprintf("%d %d %d", tr.Rows, tr.First.UnixMicro(), tr.Last.UnixMicro())
		want := fmt.Sprintf("%v %v %v", r["n"], r["lo"], r["hi"])
		if got != want {
			t.Errorf("%s %s %s: verify %s, DuckDB %s", table, r["symbol"], r["date"], got, want)
		}
	}
	if fmt.Sprint(perTable) != "map[dom:3 events:6 quotes:6 ticks:3]" {
		t.Errorf("symbol-dates per table in DuckDB: %v", perTable)
	}
	gapRows := readers.DuckDB(t, fmt.Sprintf(`SELECT count(*) AS n FROM read_parquet('%s/events/**/*.parquet', hive_partitioning = true) WHERE kind = 'gap'`, f.root))
	n := 0
	for _, s := range rep.Symbols {
		for _, g := range s.Gaps {
			n += g.Rows
		}
	}
	if fmt.Sprint(gapRows[0]["n"]) != fmt.Sprint(n) {
		t.Errorf("gap rows: verify %d, DuckDB %v", n, gapRows[0]["n"])
	}
}
