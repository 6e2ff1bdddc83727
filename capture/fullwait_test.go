package capture_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// stallUntilWaiting stalls the sink's data writes and, on another
// goroutine, lets them go once the reader has started waiting for room.
func stallUntilWaiting(t *testing.T, sink *memSink, reg *prometheus.Registry) {
	t.Helper()
	sink.mu.Lock()
	gate := make(chan struct{})
	sink.gate = gate
	sink.mu.Unlock()
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if fullWaits(reg) > 0 {
				break
			}
			time.Sleep(time.Millisecond) // polls a counter of another goroutine
		}
		sink.mu.Lock()
		sink.gate = nil
		sink.mu.Unlock()
		close(gate)
	}()
}

func fullWaits(reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == "mdcap_buffer_full_waits_total" && len(mf.Metric) > 0 {
			return mf.Metric[0].GetCounter().GetValue()
		}
	}
	return 0
}

func TestPipeline_FullBufferWaitsForTheWriterInsteadOfDropping(t *testing.T) {
	sink := newMemSink()
	reg := prometheus.NewRegistry()
	cfg := testConfig("ESZ6")
	cfg.Buffer = 4
	cfg.FullWait = 10 * time.Second // the writer comes back well before
	cfg.Registry = reg
	const n = 40
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		waitMarker(h, sink, 2)
		stallUntilWaiting(t, sink, reg)
		for i := 0; i < n; i++ {
			quote(h, 1, 10+i, 11, float64(i))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := sink.nQuotes(); got != n {
		t.Fatalf("stored %d quotes of %d", got, n)
	}
	if g := sink.kinds("ESZ6", schema.KindGap); len(g) != 0 {
		t.Fatalf("gaps %+v, want none", g)
	}
	if fullWaits(reg) < 1 {
		t.Fatal("the reader never waited: the test did not fill the buffer")
	}
}

func TestPipeline_FullBufferDropsAfterTheWait(t *testing.T) {
	sink := newMemSink()
	cfg := testConfig("ESZ6")
	cfg.Buffer = 4
	cfg.FullWait = 20 * time.Millisecond
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		waitMarker(h, sink, 2)
		sink.mu.Lock()
		sink.gate = make(chan struct{}) // the disk stalls for longer than FullWait
		sink.mu.Unlock()
		for i := 0; i < 4; i++ {
			quote(h, 1, 10+i, 11, 1)
		}
		start := time.Now()
		quote(h, 1, 20, 11, 1) // waits FullWait, then dropped
		if d := time.Since(start); d < cfg.FullWait {
			t.Errorf("dropped after %v, before FullWait", d)
		}
		start = time.Now()
		quote(h, 1, 21, 11, 1) // the episode has begun: dropped at once
		if d := time.Since(start); d >= cfg.FullWait {
			t.Errorf("second frame of an episode waited %v", d)
		}
		sink.mu.Lock()
		close(sink.gate)
		sink.gate = nil
		sink.mu.Unlock()
		waitMarker(h, sink, 30)
		quote(h, 1, 40, 11, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	gaps := sink.kinds("ESZ6", schema.KindGap)
	if len(gaps) != 1 {
		t.Fatalf("gaps %+v, want one buffer_full gap", gaps)
	}
	checkGap(t, gaps[0], ns(20), ns(40), schema.ReasonBufferFull)
	if got := sink.nQuotes(); got != 5 {
		t.Fatalf("stored %d quotes, want 5 (4 before, 1 after the episode)", got)
	}
}
