package storage

import (
	"fmt"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// BenchmarkMidnight times the UTC date change over many open files on the
// real file system: 500 symbols × 3 tables (quotes, dom, ticks) hold
// rowsBefore rows each of one date, then each gets one row of the next
// date, which finalises its file of the old date. Reported per date
// change: the writer's time in the crossing Writes (cross-ms, the sum;
// max-write-ms, the slowest one; the caller of Write waits for both),
// the writer's time closing the retired files of the old date when Roll
// is called back to back (retire-ms; spread over Writes and Rolls in a
// real run) and the time until every old file is durable (durable-ms).
//
//	go test -run '^$' -bench Midnight -benchtime 3x ./storage/
func BenchmarkMidnight(b *testing.B) {
	const (
		symbols    = 500
		rowsBefore = 100
	)
	syms := make([]string, symbols)
	for i := range syms {
		syms[i] = fmt.Sprintf("S%03dZ6", i)
	}
	var cross, worst, retire, durable time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg := testConfig(b)
		cfg.RowGroupRows = DefaultRowGroupRows
		cfg.MaxOpenFiles = 2 * 3 * symbols
		d := openDS(b, cfg)
		before := time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC).UnixNano()
		after := time.Date(2026, 11, 26, 0, 0, 0, 1000, time.UTC).UnixNano()
		qg, dg := newQuoteGen(1), newDOMGen(2)
		var q schema.Quote
		var dom schema.DOM
		write := func(ts int64, n int) {
			for r := 0; r < n; r++ {
				for k, s := range syms {
					qg.next(&q, false)
					q.RecvTS = ts + int64(r*symbols+k)
					dg.next(&dom, false)
					dom.RecvTS = q.RecvTS
					tk := tickRow(r)
					tk.RecvTS = q.RecvTS
					if err := d.WriteQuote(s, &q); err != nil {
						b.Fatal(err)
					}
					if err := d.WriteDOM(s, &dom); err != nil {
						b.Fatal(err)
					}
					if err := d.WriteTick(s, &tk); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		write(before, rowsBefore)
		d.WaitFinalised()
		b.StartTimer()
		start := time.Now()
		last := start
		for k, s := range syms {
			qg.next(&q, false)
			q.RecvTS = after + int64(k)
			dg.next(&dom, false)
			dom.RecvTS = q.RecvTS
			tk := tickRow(k)
			tk.RecvTS = q.RecvTS
			if err := d.WriteQuote(s, &q); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			worst = max(worst, now.Sub(last))
			last = now
			if err := d.WriteDOM(s, &dom); err != nil {
				b.Fatal(err)
			}
			now = time.Now()
			worst = max(worst, now.Sub(last))
			last = now
			if err := d.WriteTick(s, &tk); err != nil {
				b.Fatal(err)
			}
			now = time.Now()
			worst = max(worst, now.Sub(last))
			last = now
		}
		cross += last.Sub(start)
		b.StopTimer()
		// Close the retiring files of the old date as Roll does, without
		// the seconds between Rolls: their footers' writer time.
		rs := time.Now()
		for d.Stats().FilesRetiring > 0 {
			if err := d.Roll(time.Unix(0, after)); err != nil {
				b.Fatal(err)
			}
		}
		retire += time.Since(rs)
		d.WaitFinalised()
		durable += time.Since(start)
		if st := d.Stats(); st.FilesFinalised != 3*symbols || st.FilesPending != 0 {
			b.Fatalf("stats after the date change: %+v", st)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(cross.Milliseconds())/n, "cross-ms")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-write-ms")
	b.ReportMetric(float64(retire.Milliseconds())/n, "retire-ms")
	b.ReportMetric(float64(durable.Milliseconds())/n, "durable-ms")
}
