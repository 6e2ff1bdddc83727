package capture_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/journal"
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
// process, steadier on a shared machine.
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
			if on {
				j, err := journal.Open(journal.Config{Root: root, WriterID: "bench", RunID: "bench", Start: time.Now(), Logger: zerolog.Nop()})
				if err != nil {
					b.Fatal(err)
				}
				sink = journal.NewSink(ds, j)
			}
			cpu0 := processCPU()
			benchPipeline(b, sink, true)
			b.ReportMetric(float64(b.N*10)/(processCPU()-cpu0).Seconds(), "updates/cpu-s")
		})
	}
}
