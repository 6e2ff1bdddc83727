package journal

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// The journal's cost on the writer path: the same rows written into a
// dataset alone and into a dataset with the journal in front, with the
// writer's periodic Roll (journal fsync) every second of wall time, as
// --sync-interval 1s does. Reported: rows/s (wall), writer-cpu-ns/row
// (the writing goroutine's own thread CPU) and rows/cpu-s (the
// process's CPU time: the machine is shared, so wall time depends on the
// neighbours), journal bytes per row.
//
//	go test -run - -bench BenchmarkSink -benchtime 400000x ./journal

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadTime is the calling thread's CPU time (Linux RUSAGE_THREAD): with
// the goroutine locked to its thread, the writer goroutine's own CPU.
func threadTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type benchWriter interface {
	WriteQuote(string, *schema.Quote) error
	WriteDOM(string, *schema.DOM) error
	Roll(time.Time) error
	Close() error
}

func benchSink(b *testing.B, journaled bool, write func(w benchWriter, i int) error) {
	root := b.TempDir()
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "bench", RunID: "bench", Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	var w benchWriter = ds
	var j *Journal
	if journaled {
		j, err = Open(Config{Root: root, WriterID: "bench", RunID: "bench", Start: time.Now(), Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		w = NewSink(ds, j)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, tcpu0, start := cpuTime(), threadTime(), time.Now()
	lastRoll := start
	for i := 0; i < b.N; i++ {
		if err := write(w, i); err != nil {
			b.Fatal(err)
		}
		if i%1024 == 0 {
			if now := time.Now(); now.Sub(lastRoll) >= time.Second {
				lastRoll = now
				if err := w.Roll(now); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu, tcpu, wall := cpuTime()-cpu0, threadTime()-tcpu0, time.Since(start)
	b.ReportMetric(float64(b.N)/wall.Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(tcpu.Nanoseconds())/float64(b.N), "writer-cpu-ns/row")
	if j != nil {
		b.ReportMetric(float64(j.Stats().BytesWritten)/float64(b.N), "journal_B/row")
		b.ReportMetric(float64(j.Stats().Syncs), "fsyncs")
	}
}

func BenchmarkSinkQuote(b *testing.B) {
	rows := make([]schema.Quote, 1<<14)
	t0 := time.Now().UnixNano()
	for i := range rows {
		px := 6000 + float64(i%37)*0.25
		rows[i] = schema.Quote{RecvTS: t0 + int64(i)*1000, TS: t0 + int64(i)*1000 - 500, ContractID: 11, ConnID: 1,
			BidPrice: f64(px), BidSize: f64(float64(i % 50)), AskPrice: f64(px + 0.25), AskSize: f64(float64(i % 40)),
			TotalVolume: f64(float64(100000 + i))}
	}
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "dataset", true: "dataset+journal"}[on], func(b *testing.B) {
			benchSink(b, on, func(w benchWriter, i int) error {
				r := &rows[i%len(rows)]
				r.Seq = int64(i + 1)
				r.RecvTS = t0 + int64(i)*1000
				return w.WriteQuote("ESZ6", r)
			})
		})
	}
}

func BenchmarkSinkDOM(b *testing.B) {
	rows := make([]schema.DOM, 1<<12)
	t0 := time.Now().UnixNano()
	side := func(px float64, step float64, i int) ([]*float64, []*float64) {
		p, s := make([]*float64, 10), make([]*float64, 10)
		for l := range p {
			p[l], s[l] = f64(px+step*float64(l)), f64(float64((i+l)%30+1))
		}
		return p, s
	}
	for i := range rows {
		px := 6000 + float64(i%37)*0.25
		rows[i] = schema.DOM{RecvTS: t0 + int64(i)*1000, TS: t0 + int64(i)*1000, ContractID: 11, ConnID: 1}
		rows[i].BidPrices, rows[i].BidSizes = side(px, -0.25, i)
		rows[i].AskPrices, rows[i].AskSizes = side(px+0.25, 0.25, i)
	}
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "dataset", true: "dataset+journal"}[on], func(b *testing.B) {
			benchSink(b, on, func(w benchWriter, i int) error {
				r := &rows[i%len(rows)]
				r.Seq = int64(i + 1)
				r.RecvTS = t0 + int64(i)*1000
				return w.WriteDOM("ESZ6", r)
			})
		})
	}
}

// BenchmarkJournalOnly is the journal's own cost per row (encode, S2,
// CRC, write; one fsync per second of wall time).
func BenchmarkJournalOnly(b *testing.B) {
	j, err := Open(Config{Root: b.TempDir(), WriterID: "bench", RunID: "bench", Start: time.Now(), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().UnixNano()
	q := schema.Quote{RecvTS: t0, TS: t0, ContractID: 11, ConnID: 1, BidPrice: f64(6000), BidSize: f64(3), AskPrice: f64(6000.25),
		AskSize: f64(5), TotalVolume: f64(1e5)}
	b.ReportAllocs()
	b.ResetTimer()
	last := time.Now()
	for i := 0; i < b.N; i++ {
		q.Seq, q.RecvTS = int64(i), t0+int64(i)*1000
		*q.BidSize = float64(i % 50)
		j.AppendQuote("ESZ6", &q)
		if i%1024 == 0 && time.Since(last) >= time.Second {
			last = time.Now()
			if err := j.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkJournalOnlyDOM is the journal's own cost per 10-level DOM row.
func BenchmarkJournalOnlyDOM(b *testing.B) {
	j, err := Open(Config{Root: b.TempDir(), WriterID: "bench", RunID: "bench", Start: time.Now(), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().UnixNano()
	d := schema.DOM{RecvTS: t0, TS: t0, ContractID: 11, ConnID: 1}
	for l := 0; l < 10; l++ {
		d.BidPrices = append(d.BidPrices, f64(6000-0.25*float64(l)))
		d.AskPrices = append(d.AskPrices, f64(6000.25+0.25*float64(l)))
		d.BidSizes = append(d.BidSizes, f64(float64(l+1)))
		d.AskSizes = append(d.AskSizes, f64(float64(l+2)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Seq, d.RecvTS = int64(i), t0+int64(i)*1000
		*d.BidSizes[0] = float64(i % 50)
		j.AppendDOM("ESZ6", &d)
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
}

// mixRows are rows shaped like the simulator's market (and a busy real
// one): per step, a quote and a 10-level book of one of two contracts,
// the best bid walking on the tick grid, sizes random at every level,
// trades and session statistics now and then — so that writing against
// the previous row is measured on values that do change.
type mixRow struct {
	sym string
	q   *schema.Quote
	d   *schema.DOM
}

func mixRows(n int) []mixRow {
	rng := rand.New(rand.NewPCG(7, 9))
	t0 := time.Now().UnixNano()
	bid := map[string]int{"ESZ6": 24000, "NQZ6": 84000}
	vol := map[string]float64{}
	var out []mixRow
	seq := map[string]int64{}
	for i := 0; len(out) < n; i++ {
		sym := []string{"ESZ6", "NQZ6"}[i%2]
		switch x := rng.IntN(10); {
		case x < 2:
			bid[sym]--
		case x < 4:
			bid[sym]++
		}
		px := func(t int) *float64 { return f64(float64(t) * 0.25) }
		recv := t0 + int64(i)*1000
		seq[sym]++
		q := &schema.Quote{RecvTS: recv, TS: recv - 300_000, ContractID: 3_600_000 + int64(i%2), ConnID: 1, Seq: seq[sym],
			BidPrice: px(bid[sym]), BidSize: f64(float64(1 + rng.IntN(60))), AskPrice: px(bid[sym] + 1),
			AskSize: f64(float64(1 + rng.IntN(60)))}
		if rng.IntN(3) == 0 {
			sz := float64(1 + rng.IntN(12))
			vol[sym] += sz
			q.TradePrice, q.TradeSize = px(bid[sym]+rng.IntN(2)), f64(sz)
		}
		q.TotalVolume = f64(vol[sym])
		if i%10 == 1 {
			q.OpenInterest, q.OpenPrice, q.HighPrice, q.LowPrice, q.SettlementPrice = f64(2e6), px(24010), px(24100), px(23900), px(24000)
		}
		out = append(out, mixRow{sym: sym, q: q})
		if i%4 == 0 { // 8 quotes and 2 books per 10 rows, as in a busy frame
			d := &schema.DOM{RecvTS: recv, TS: recv - 300_000, ContractID: q.ContractID, ConnID: 1, Seq: seq[sym]}
			for l := 0; l < 10; l++ {
				d.BidPrices = append(d.BidPrices, px(bid[sym]-l))
				d.AskPrices = append(d.AskPrices, px(bid[sym]+1+l))
				d.BidSizes = append(d.BidSizes, f64(float64(1+rng.IntN(40*l+20))))
				d.AskSizes = append(d.AskSizes, f64(float64(1+rng.IntN(40*l+20))))
			}
			out = append(out, mixRow{sym: sym, d: d})
		}
	}
	return out[:n]
}

// BenchmarkJournalOnlyMix is the journal's own cost per row on mixRows
// (one fsync per second of wall time); cpu-ns/row is the process's CPU
// time per row.
func BenchmarkJournalOnlyMix(b *testing.B) {
	j, err := Open(Config{Root: b.TempDir(), WriterID: "bench", RunID: "bench", Start: time.Now(), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	rows := mixRows(1 << 14)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, tcpu0, last := cpuTime(), threadTime(), time.Now()
	for i := 0; i < b.N; i++ {
		r := &rows[i%len(rows)]
		if r.q != nil {
			j.AppendQuote(r.sym, r.q)
		} else {
			j.AppendDOM(r.sym, r.d)
		}
		if i%1024 == 0 && time.Since(last) >= time.Second {
			last = time.Now()
			if err := j.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/row")
	b.ReportMetric(float64(threadTime()-tcpu0)/float64(b.N), "writer-cpu-ns/row")
	st := j.Stats()
	b.ReportMetric(float64(st.BytesWritten)/float64(b.N), "journal_B/row")
	if st.Syncs > 0 {
		b.ReportMetric(float64(st.SyncNanos)/float64(st.Syncs)/1e6, "ms/fsync")
	}
}

// BenchmarkSinkMix is BenchmarkSinkQuote on mixRows: the journal's cost
// against the dataset's on realistic rows.
func BenchmarkSinkMix(b *testing.B) {
	rows := mixRows(1 << 14)
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "dataset", true: "dataset+journal"}[on], func(b *testing.B) {
			benchSink(b, on, func(w benchWriter, i int) error {
				r := &rows[i%len(rows)]
				if r.q != nil {
					r.q.Seq = int64(i + 1) // strictly increasing across the pool's repeats
					return w.WriteQuote(r.sym, r.q)
				}
				r.d.Seq = int64(i + 1)
				return w.WriteDOM(r.sym, r.d)
			})
		})
	}
}

// BenchmarkRecoverMix is recovery's speed: a dead run's journal of
// 400,000 mixRows rows replayed into finalised files. "pages": the rows
// reached the journal as the dataset's pages (a Sync per second of
// rows, as --sync-interval 1s at 400,000 rows/s); "rows": a Sync every
// 1,000 rows, so nearly every row was journaled from the files' tails,
// row by row (the records of a quiet feed, and of older recorders).
//
//	go test -run - -bench RecoverMix -benchtime 3x ./journal
func BenchmarkRecoverMix(b *testing.B) {
	const n = 400_000
	rows := mixRows(1 << 14)
	for _, every := range []int{n, 1000} {
		b.Run(map[int]string{n: "pages", 1000: "rows"}[every], func(b *testing.B) {
			var replayed int64
			var elapsed time.Duration
			var jbytes int64
			for it := 0; it < b.N; it++ {
				b.StopTimer()
				root := b.TempDir()
				ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", Logger: zerolog.Nop()})
				if err != nil {
					b.Fatal(err)
				}
				j, err := Open(Config{Root: root, WriterID: "w", RunID: "w-1", Start: time.Now(), Logger: zerolog.Nop()})
				if err != nil {
					b.Fatal(err)
				}
				s := NewSink(ds, j)
				for i := 0; i < n; i++ {
					r := &rows[i%len(rows)]
					if r.q != nil {
						r.q.Seq = int64(i + 1)
						err = s.WriteQuote(r.sym, r.q)
					} else {
						r.d.Seq = int64(i + 1)
						err = s.WriteDOM(r.sym, r.d)
					}
					if err != nil {
						b.Fatal(err)
					}
					if (i+1)%every == 0 {
						if err := j.Sync(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := j.Sync(); err != nil {
					b.Fatal(err)
				}
				jbytes += j.Stats().BytesWritten
				// kill -9: the files stay unfinished; the journal holds every row.
				j.stop()
				b.StartTimer()
				start := time.Now()
				res, err := Recover(RecoverConfig{Root: root, WriterID: "w", Storage: storage.Config{Logger: zerolog.Nop()}, Logger: zerolog.Nop()})
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if res.Replayed != n {
					b.Fatalf("replayed %d rows, want %d", res.Replayed, n)
				}
				replayed += res.Replayed
			}
			b.ReportMetric(float64(replayed)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(jbytes)/float64(int64(b.N)*n), "journal_B/row")
		})
	}
}

// BenchmarkTailBurst is the roll of a many-symbol recorder: 1,000 open
// files (500 symbols, quotes and DOM) with 500 rows each, none in a page
// yet, all taken as tail rows by one Sync. Reported: the writer's time
// in that Sync per row (the copy, the hand-overs waiting for the
// flusher's encoding, the write and the fsync).
//
//	go test -run - -bench TailBurst -benchtime 5x ./journal
func BenchmarkTailBurst(b *testing.B) {
	rows := mixRows(1 << 14)
	const syms, perFile = 500, 500
	var spent time.Duration
	var taken int64
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		root := b.TempDir()
		ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", MaxOpenFiles: 4096, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		j, err := Open(Config{Root: root, WriterID: "w", RunID: "w-1", Start: time.Now(), Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		s := NewSink(ds, j)
		for i := 0; i < syms*perFile*2; i++ {
			sym := "S" + strconv.Itoa(i%syms)
			if (i/syms)%2 == 0 {
				err = s.WriteQuote(sym, cloneQuoteForBench(rows, i))
			} else {
				err = s.WriteDOM(sym, domForBench(i))
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		before := j.records
		b.StartTimer()
		start := time.Now()
		if err := j.Sync(); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(start)
		b.StopTimer()
		taken += j.records - before
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(taken), "sync-ns/row")
	b.ReportMetric(float64(taken)/float64(b.N), "rows/sync")
}

func cloneQuoteForBench(rows []mixRow, i int) *schema.Quote {
	for k := 0; ; k++ {
		if q := rows[(i+k)%len(rows)].q; q != nil {
			c := *q
			c.Seq = int64(i + 1)
			return &c
		}
	}
}

func domForBench(i int) *schema.DOM {
	d := &schema.DOM{RecvTS: int64(i), TS: int64(i), Seq: int64(i + 1)}
	for l := 0; l < 10; l++ {
		d.BidPrices = append(d.BidPrices, f64(6000-0.25*float64(l)))
		d.BidSizes = append(d.BidSizes, f64(float64(1+(i+l)%30)))
		d.AskPrices = append(d.AskPrices, f64(6000.25+0.25*float64(l)))
		d.AskSizes = append(d.AskSizes, f64(float64(1+(i*7+l)%30)))
	}
	return d
}
