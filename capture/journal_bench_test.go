package capture_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/journal"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipeline_Journal is the writer benchmark with and without the
// crash journal in front of the dataset (the writer rolls, and so
// fsyncs the journal, every second: --sync-interval 1s). Besides
// stored_updates/s (wall) it reports updates per CPU-second of the
// process, steadier on a shared machine, and the writer goroutine's own
// CPU per update (writer-cpu-ns/update: its thread's, the goroutine being
// locked to it), which is what bounds the writer's throughput, and the
// journal's bytes written per update.
//
//	go test -run - -bench Pipeline_Journal -benchtime 100000x -count 5 ./capture
func BenchmarkPipeline_Journal(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "dataset", true: "dataset+journal"}[on], func(b *testing.B) {
			root := b.TempDir()
			ds, err := storage.Open(storage.Config{Root: root, WriterID: "bench", RunID: "bench", Logger: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			var sink capture.Sink = ds
			var j *journal.Journal
			if on {
				j, err = journal.Open(journal.Config{Root: root, WriterID: "bench", RunID: "bench", Start: time.Now(), Logger: zerolog.Nop()})
				if err != nil {
					b.Fatal(err)
				}
				sink = journal.NewSink(ds, j)
			}
			ts := &threadSink{Sink: sink}
			cpu0 := processCPU()
			benchPipeline(b, ts, true)
			b.ReportMetric(float64(b.N*10)/(processCPU()-cpu0).Seconds(), "updates/cpu-s")
			b.ReportMetric(float64(ts.cpu.Nanoseconds())/float64(b.N*10), "writer-cpu-ns/update")
			if j != nil {
				b.ReportMetric(float64(j.Stats().BytesWritten)/float64(b.N*10), "journal-B/update")
			}
		})
	}
}

// threadSink measures the writer goroutine's CPU: its first call locks
// the goroutine to its thread (for the rest of its life) and Close reads
// the thread's CPU time since.
type threadSink struct {
	capture.Sink
	locked bool
	cpu0   time.Duration
	cpu    time.Duration
}

func (s *threadSink) lock() {
	if !s.locked {
		s.locked = true
		runtime.LockOSThread()
		s.cpu0 = threadCPU()
	}
}

func (s *threadSink) WriteQuote(sym string, r *schema.Quote) error {
	s.lock()
	return s.Sink.WriteQuote(sym, r)
}

func (s *threadSink) WriteDOM(sym string, r *schema.DOM) error {
	s.lock()
	return s.Sink.WriteDOM(sym, r)
}

func (s *threadSink) WriteEvent(sym string, r *schema.Event) error {
	s.lock()
	return s.Sink.WriteEvent(sym, r)
}

func (s *threadSink) Roll(now time.Time) error {
	s.lock()
	return s.Sink.Roll(now)
}

func (s *threadSink) Close() error {
	s.lock()
	err := s.Sink.Close()
	s.cpu = threadCPU() - s.cpu0
	return err
}
