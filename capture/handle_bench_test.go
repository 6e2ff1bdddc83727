package capture

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

type discardSink struct{}

func (discardSink) WriteQuote(string, *schema.Quote) error { return nil }
func (discardSink) WriteDOM(string, *schema.DOM) error     { return nil }
func (discardSink) WriteEvent(string, *schema.Event) error { return nil }
func (discardSink) Roll(time.Time) error                   { return nil }
func (discardSink) Close() error                           { return nil }

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// blastFrames are one-update frames over four contracts, every fifth a
// 10-level DOM (the shape of scripts/bench's blast).
func blastFrames() []*feed.Batch {
	var out []*feed.Batch
	for i := 0; i < 20; i++ {
		b := &feed.Batch{ConnID: 1, RecvTime: 1}
		id := int64(11 * (1 + i%4))
		if i%5 == 4 {
			d := feed.DOM{ContractID: id, Timestamp: 1}
			for l := 0; l < 10; l++ {
				d.Bids = append(d.Bids, feed.Level{Price: 6000 - 0.25*float64(l), Size: float64(l + 1), HasPrice: true, HasSize: true})
				d.Offers = append(d.Offers, feed.Level{Price: 6000.25 + 0.25*float64(l), Size: float64(l + 1), HasPrice: true, HasSize: true})
			}
			b.DOMs = append(b.DOMs, d)
		} else {
			b.Quotes = append(b.Quotes, feed.Quote{ContractID: id, Timestamp: 1,
				Has: feed.HasBid | feed.HasBidSize | feed.HasAsk | feed.HasAskSize | feed.HasTotalVolume,
				Bid: 6000, BidSize: 10, Ask: 6000.25, AskSize: 12, TotalVol: float64(i)})
		}
		out = append(out, b)
	}
	return out
}

// benchPipeline is a pipeline with four subscribed symbols whose writer
// goroutine is not running: the benchmarks below play its part.
func benchPipelineNoWriter(b testing.TB) *Pipeline {
	syms := []string{"S1", "S2", "S3", "S4"}
	p, err := New(Config{Symbols: syms, DOM: true, RunID: "bench", Buffer: 1 << 16, StatusEvery: -1, Logger: zerolog.Nop()}, discardSink{})
	if err != nil {
		b.Fatal(err)
	}
	p.HandleEvent(feed.Event{Kind: feed.EventConnected, ConnID: 1, Time: time.Now()})
	for i, s := range syms {
		p.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: 1, Time: time.Now(), Symbol: s, ContractID: int64(11 * (1 + i))})
	}
	return p
}

// BenchmarkHandleBatchBusyWriter: the reader's hand-off of one-update
// frames while the writer is busy, which is when the recorder is loaded:
// frames coalesce into the held chunk, and the "writer" takes it every
// 256 frames. cpu-ns/op is the reader thread's CPU per frame.
func BenchmarkHandleBatchBusyWriter(b *testing.B) {
	p := benchPipelineNoWriter(b)
	frames := blastFrames()
	drain := func() {
		for {
			select {
			case c := <-p.queue:
				p.inflight.Add(-int64(c.records()))
				if c.records() == 0 {
					p.eventsQueued.Add(-1)
				}
				p.free.put(c)
			default:
				return
			}
		}
	}
	drain()
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	t0 := threadCPU()
	for i := 0; i < b.N; i++ {
		f := frames[i%len(frames)]
		f.RecvTime++
		p.HandleBatch(f)
		if i%256 == 255 {
			if c := p.takeHeld(); c != nil {
				p.inflight.Add(-int64(c.records()))
				p.free.put(c)
			}
			drain()
		}
	}
	d := threadCPU() - t0
	b.StopTimer()
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkWriterChunk: the writer goroutine's conversion of a chunk of
// 256 one-update frames into schema rows, into a sink that keeps
// nothing. cpu-ns/op is per row.
func BenchmarkWriterChunk(b *testing.B) {
	p := benchPipelineNoWriter(b)
	frames := blastFrames()
	var chunks []*chunk
	for k := 0; k < 4; k++ {
		c := &chunk{conn: 1, recv: 1}
		for i := 0; i < 256; i++ {
			p.add(c, frames[i%len(frames)])
		}
		chunks = append(chunks, c)
	}
	w := newWriter(p)
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	t0 := threadCPU()
	rows := 0
	for i := 0; i < b.N; i++ {
		c := chunks[i%len(chunks)]
		w.quotes(c)
		w.doms(c)
		w.publishLast()
		rows += c.records()
	}
	d := threadCPU() - t0
	b.StopTimer()
	b.ReportMetric(float64(d.Nanoseconds())/float64(rows), "cpu-ns/row")
}
