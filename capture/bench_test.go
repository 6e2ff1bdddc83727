package capture_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

type nopSink struct{}

func (nopSink) WriteQuote(string, *schema.Quote) error { return nil }
func (nopSink) WriteDOM(string, *schema.DOM) error     { return nil }
func (nopSink) WriteEvent(string, *schema.Event) error { return nil }
func (nopSink) Roll(time.Time) error                   { return nil }
func (nopSink) Close() error                           { return nil }

// benchBatches builds frames of 8 quotes and 2 ten-level DOM updates over
// two contracts, the shape of a busy market-data frame.
func benchBatch(recv int64) *feed.Batch {
	b := &feed.Batch{ConnID: 1, RecvTime: recv}
	for i := 0; i < 8; i++ {
		b.Quotes = append(b.Quotes, feed.Quote{ContractID: int64(11 + 11*(i%2)), Timestamp: recv + int64(i),
			Has: feed.HasBid | feed.HasBidSize | feed.HasAsk | feed.HasAskSize | feed.HasTotalVolume,
			Bid: 6000, BidSize: 10, Ask: 6000.25, AskSize: 12, TotalVol: float64(recv % 100000)})
	}
	for i := 0; i < 2; i++ {
		d := feed.DOM{ContractID: int64(11 + 11*i), Timestamp: recv}
		for l := 0; l < 10; l++ {
			d.Bids = append(d.Bids, feed.Level{Price: 6000 - 0.25*float64(l), Size: float64(l + 1), HasPrice: true, HasSize: true})
			d.Offers = append(d.Offers, feed.Level{Price: 6000.25 + 0.25*float64(l), Size: float64(l + 1), HasPrice: true, HasSize: true})
		}
		b.DOMs = append(b.DOMs, d)
	}
	return b
}

// benchPipeline pushes b.N frames (10 updates each) through the pipeline
// into sink and reports updates per second end to end (until every row is
// written and the sink closed) and how many were dropped for lack of room.
//
// With paced set, the source waits while the buffer is more than half full
// (a feed cannot, but this measures the writer side's capacity).
func benchPipeline(b *testing.B, sink capture.Sink, paced bool) {
	reg := prometheus.NewRegistry()
	cfg := capture.Config{Symbols: []string{"ESZ6", "NQZ6"}, DOM: true, RunID: "bench", Buffer: 1 << 16,
		StatusEvery: -1, Registry: reg, Logger: zerolog.Nop()}
	p, err := capture.New(cfg, sink)
	if err != nil {
		b.Fatal(err)
	}
	frame := benchBatch(time.Now().UnixNano())
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	err = p.Run(context.Background(), func(_ context.Context, h feed.Handler) error {
		h.HandleEvent(feed.Event{Kind: feed.EventConnected, ConnID: 1, Time: time.Now()})
		h.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: 1, Time: time.Now(), Symbol: "ESZ6", ContractID: 11})
		h.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: 1, Time: time.Now(), Symbol: "NQZ6", ContractID: 22})
		for i := 0; i < b.N; i++ {
			frame.RecvTime += 1000
			for paced && p.Buffered() > cfg.Buffer/2 {
				time.Sleep(50 * time.Microsecond)
			}
			h.HandleBatch(frame)
		}
		return nil
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	var dropped float64
	if mfs, err := reg.Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "mdcap_records_dropped_total" {
				for _, m := range mf.GetMetric() {
					dropped += m.GetCounter().GetValue()
				}
			}
		}
	}
	updates := float64(b.N * 10)
	b.ReportMetric((updates-dropped)/elapsed.Seconds(), "stored_updates/s")
	b.ReportMetric(dropped/updates, "dropped_fraction")
}

func BenchmarkPipeline_NopSink(b *testing.B) { benchPipeline(b, nopSink{}, false) }

func BenchmarkPipeline_Dataset(b *testing.B) {
	for _, paced := range []bool{false, true} {
		name := map[bool]string{false: "unpaced", true: "paced"}[paced]
		b.Run(name, func(b *testing.B) {
			ds, err := storage.Open(storage.Config{Root: b.TempDir(), WriterID: "bench", RunID: "bench", Logger: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			benchPipeline(b, ds, paced)
		})
	}
}

// BenchmarkHandleBatch measures the feed reader's side alone: the time a
// frame of 10 updates costs the goroutine that reads the socket.
func BenchmarkHandleBatch(b *testing.B) {
	cfg := capture.Config{Symbols: []string{"ESZ6", "NQZ6"}, DOM: true, RunID: "bench", Buffer: 1 << 16,
		StatusEvery: -1, Logger: zerolog.Nop()}
	p, err := capture.New(cfg, nopSink{})
	if err != nil {
		b.Fatal(err)
	}
	frame := benchBatch(time.Now().UnixNano())
	var loop time.Duration
	err = p.Run(context.Background(), func(_ context.Context, h feed.Handler) error {
		h.HandleEvent(feed.Event{Kind: feed.EventConnected, ConnID: 1, Time: time.Now()})
		h.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: 1, Time: time.Now(), Symbol: "ESZ6", ContractID: 11})
		h.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: 1, Time: time.Now(), Symbol: "NQZ6", ContractID: 22})
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			frame.RecvTime += 1000
			for p.Buffered() > 1000 { // a writer that keeps up
				time.Sleep(20 * time.Microsecond)
			}
			start := time.Now()
			h.HandleBatch(frame)
			loop += time.Since(start)
		}
		b.StopTimer()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(loop.Nanoseconds())/float64(b.N*10), "reader_ns/update")
}

// blastBatches builds the frames of scripts/bench's blast: one update per
// frame over four contracts, every fifth a 10-level DOM, the rest quotes
// with bid, offer and volume.
func blastBatches(recv int64) []*feed.Batch {
	var out []*feed.Batch
	for i := 0; i < 20; i++ {
		b := &feed.Batch{ConnID: 1, RecvTime: recv}
		id := int64(11 * (1 + i%4))
		if i%5 == 4 {
			d := feed.DOM{ContractID: id, Timestamp: recv}
			for l := 0; l < 10; l++ {
				d.Bids = append(d.Bids, feed.Level{Price: 6000 - 0.25*float64(l), Size: float64(l + 1), HasPrice: true, HasSize: true})
				d.Offers = append(d.Offers, feed.Level{Price: 6000.25 + 0.25*float64(l), Size: float64(l + 1), HasPrice: true, HasSize: true})
			}
			b.DOMs = append(b.DOMs, d)
		} else {
			b.Quotes = append(b.Quotes, feed.Quote{ContractID: id, Timestamp: recv,
				Has: feed.HasBid | feed.HasBidSize | feed.HasAsk | feed.HasAskSize | feed.HasTotalVolume,
				Bid: 6000, BidSize: 10, Ask: 6000.25, AskSize: 12, TotalVol: float64(i)})
		}
		out = append(out, b)
	}
	return out
}

// BenchmarkPipeline_BlastShape pushes b.N one-update frames shaped like
// the benchmark blast through the pipeline into a sink that keeps
// nothing: the pipeline's own cost. It reports CPU time per update of
// the whole process (reader and writer goroutines) and of the reader
// goroutine alone (the thread that calls HandleBatch), both steady on a
// shared machine.
func BenchmarkPipeline_BlastShape(b *testing.B) {
	b.Run("nop", func(b *testing.B) { benchBlastShape(b, nopSink{}) })
	// A sink that takes about as long per row as the dataset does, so the
	// writer is busy and the reader coalesces frames as in the recorder.
	b.Run("busy", func(b *testing.B) { benchBlastShape(b, &busySink{}) })
}

// busySink spins for a while per row.
type busySink struct {
	nopSink
	x uint64
}

func (s *busySink) spin() {
	for i := 0; i < 300; i++ {
		s.x = s.x*6364136223846793005 + 1442695040888963407
	}
}
func (s *busySink) WriteQuote(string, *schema.Quote) error { s.spin(); return nil }
func (s *busySink) WriteDOM(string, *schema.DOM) error     { s.spin(); return nil }

func benchBlastShape(b *testing.B, sink capture.Sink) {
	cfg := capture.Config{Symbols: []string{"S1", "S2", "S3", "S4"}, DOM: true, RunID: "bench", Buffer: 1 << 16,
		StatusEvery: -1, Registry: prometheus.NewRegistry(), Logger: zerolog.Nop()}
	p, err := capture.New(cfg, sink)
	if err != nil {
		b.Fatal(err)
	}
	frames := blastBatches(time.Now().UnixNano())
	b.ReportAllocs()
	var readerCPU time.Duration
	cpu0 := processCPU()
	err = p.Run(context.Background(), func(_ context.Context, h feed.Handler) error {
		h.HandleEvent(feed.Event{Kind: feed.EventConnected, ConnID: 1, Time: time.Now()})
		for i, s := range cfg.Symbols {
			h.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: 1, Time: time.Now(), Symbol: s, ContractID: int64(11 * (1 + i))})
		}
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		t0 := threadCPU()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			f := frames[i%len(frames)]
			f.RecvTime += 1000
			for p.Buffered() > cfg.Buffer/2 {
				time.Sleep(50 * time.Microsecond)
			}
			h.HandleBatch(f)
		}
		readerCPU = threadCPU() - t0
		return nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/update")
	b.ReportMetric(float64(readerCPU.Nanoseconds())/float64(b.N), "reader-cpu-ns/update")
}

// threadCPU is the calling thread's CPU time (Linux RUSAGE_THREAD).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
