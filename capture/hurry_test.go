package capture_test

import (
	"testing"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// A hurried stop skips the data still buffered, records it as a user_stop
// gap, and still writes the stop rows and closes the sink.
func TestPipeline_HurriedStopRecordsWhatItSkipped(t *testing.T) {
	sink := newMemSink()
	hurry := make(chan struct{})
	cfg := testConfig("ESZ6")
	cfg.Hurry = hurry
	err := runScript(t, cfg, sink, func(h feed.Handler) {
		connected(h, 1, 0)
		subscribed(h, 1, 1, "ESZ6", 11)
		waitMarker(h, sink, 2)
		sink.mu.Lock()
		sink.gate = make(chan struct{})
		gate := sink.gate
		sink.mu.Unlock()
		for i := 0; i < 5; i++ {
			quote(h, 1, 10+i, 11, 1) // the writer blocks on the first it takes
		}
		close(hurry)
		sink.mu.Lock()
		sink.gate = nil
		sink.mu.Unlock()
		close(gate)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sink.quotes["ESZ6"]); n > 5 {
		t.Fatalf("%d quotes written", n)
	}
	kept := len(sink.quotes["ESZ6"])
	gaps := sink.kinds("ESZ6", schema.KindGap)
	if kept == 5 {
		t.Skip("the writer finished before it saw the hurry signal")
	}
	if len(gaps) != 1 || gaps[0].Reason != schema.ReasonUserStop || *gaps[0].GapStart != ns(10+kept) || *gaps[0].GapEnd < ns(14) {
		t.Errorf("kept %d; gaps %+v", kept, gaps)
	}
	if len(sink.kinds("ESZ6", schema.KindStop)) != 1 || !sink.closed {
		t.Error("no stop row or sink not closed")
	}
}
