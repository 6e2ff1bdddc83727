package journal

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/storage"
)

// sent is one quote the test source delivered.
type sent struct {
	recv int64
	ts   int64
}

// runPipeline records from a source that sends one quote of ESZ6 per
// millisecond until ctx ends or the pipeline stops it, through a
// journaled dataset on fsys; during(t) is called with the elapsed time
// after every frame to switch faults. It returns what was sent and Run's
// error.
func runPipeline(t *testing.T, ctx context.Context, root string, fsys storage.FS, limit time.Duration,
	during func(time.Duration)) ([]sent, error) {
	t.Helper()
	start := time.Now()
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", RollInterval: 150 * time.Millisecond,
		FS: fsys, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	j, err := Open(Config{Root: root, WriterID: "w", RunID: "w-1", Start: start, FS: fsys, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := capture.New(capture.Config{Symbols: []string{"ESZ6"}, RunID: "w-1", RollEvery: 20 * time.Millisecond,
		StatusEvery: -1, WriteErrorLimit: limit, Logger: zerolog.Nop()}, NewSink(ds, j))
	if err != nil {
		t.Fatal(err)
	}
	var out []sent
	var n atomic.Int64
	err = p.Run(ctx, func(ctx context.Context, h feed.Handler) error {
		h.HandleEvent(feed.Event{Kind: feed.EventConnected, ConnID: 1, Time: time.Now()})
		h.HandleEvent(feed.Event{Kind: feed.EventSubscribed, ConnID: 1, Time: time.Now(), Symbol: "ESZ6", ContractID: 7})
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			now := time.Now().UnixNano()
			i := n.Add(1)
			b := feed.Batch{ConnID: 1, RecvTime: now, Quotes: []feed.Quote{{ContractID: 7, Timestamp: now - i,
				Has: feed.HasBid, Bid: float64(i)}}}
			h.HandleBatch(&b)
			out = append(out, sent{recv: now, ts: now - i})
			during(time.Since(start))
		}
	})
	return out, err
}

// checkSent reads the dataset back: every final file readable, no
// temporary file, and every quote sent is stored once or lies in a gap.
func checkSent(t *testing.T, root string, out []sent) *capturetest.Dataset {
	t.Helper()
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatalf("a file under a final name is unreadable: %v", err)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	stored := map[int64]int{}
	for _, q := range d.Quotes["ESZ6"] {
		stored[q.TS]++
	}
	missing := 0
	for _, s := range out {
		switch n := stored[s.ts]; {
		case n > 1:
			t.Fatalf("quote sent at %d stored %d times", s.recv, n)
		case n == 0:
			missing++
			if !d.InGap("ESZ6", s.recv) {
				t.Fatalf("quote sent at %d neither stored nor inside a gap", s.recv)
			}
		}
	}
	t.Logf("sent %d, stored %d, %d inside gaps", len(out), len(d.Quotes["ESZ6"]), missing)
	return d
}

// The disk is full for a while (no file can be created, writes fail):
// rows that could not be taken become a write_error gap once writing
// works again; nothing is lost outside it, no file is half written.
func TestPipeline_DiskFullForAWhileIsAWriteErrorGap(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{}
	ctx, cancel := context.WithCancel(context.Background())
	var phase int
	out, err := runPipeline(t, ctx, root, ffs, time.Minute, func(el time.Duration) {
		switch {
		case phase == 0 && el > 300*time.Millisecond:
			phase = 1
			ffs.set(func(f *faultFS) { f.writeErr, f.createErr = syscall.ENOSPC, syscall.ENOSPC })
		case phase == 1 && el > 700*time.Millisecond:
			phase = 2
			ffs.set(func(f *faultFS) { f.writeErr, f.createErr = nil, nil })
		case phase == 2 && el > 1100*time.Millisecond:
			phase = 3
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if ffs.writes == 0 {
		t.Fatal("no write failed: the fault was not injected")
	}
	d := checkSent(t, root, out)
	var we int
	for _, g := range d.Kind("ESZ6", "gap") {
		if g.Reason == "write_error" {
			we++
		}
	}
	if we == 0 {
		t.Errorf("no write_error gap")
	}
	if runs, _ := Runs(nil, root, "w"); len(runs) != 0 {
		t.Errorf("journal kept after a clean stop: %+v", runs)
	}
}

// The disk stays full: the pipeline gives up (the recorder's exit 1)
// after saving what it could; no half file appears under a final name,
// the journal stays, and the next start replays it and writes the
// crash_recovery gap that covers the rest.
func TestPipeline_PersistentDiskFullStopsAndTheNextStartRecovers(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{}
	failed := false
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // fails instead of hanging
	defer cancel()
	out, err := runPipeline(t, ctx, root, ffs, 300*time.Millisecond, func(el time.Duration) {
		if !failed && el > 400*time.Millisecond {
			failed = true
			ffs.set(func(f *faultFS) { f.writeErr, f.createErr = syscall.ENOSPC, syscall.ENOSPC })
		}
	})
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("run returned %v, want the persistent ENOSPC", err)
	}
	runs, rerr := Runs(nil, root, "w")
	if rerr != nil || len(runs) != 1 {
		t.Fatalf("journal after giving up: %+v %v", runs, rerr)
	}
	// The disk has room again; the next start recovers.
	ffs.set(func(f *faultFS) { f.writeErr, f.createErr = nil, nil })
	res := recoverAll(t, root, nil, "ESZ6")
	if len(res.Runs) != 1 {
		t.Fatalf("recovered %+v", res)
	}
	if len(res.Gaps) == 1 {
		// What the next run would write: the gap up to its first row.
		// Emulate it by closing the gap at the end of what was sent.
		t.Logf("crash gap from %d, %d rows replayed", res.Gaps[0].Start, res.Replayed)
	}
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatalf("a file under a final name is unreadable: %v", err)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	// Every quote sent before the gap the next run owes is stored once.
	gapFrom := int64(1<<63 - 1)
	if len(res.Gaps) == 1 {
		gapFrom = res.Gaps[0].Start
	}
	stored := map[int64]int{}
	for _, q := range d.Quotes["ESZ6"] {
		stored[q.TS]++
	}
	for _, s := range out {
		n := stored[s.ts]
		if n > 1 {
			t.Fatalf("quote sent at %d stored %d times", s.recv, n)
		}
		if n == 0 && s.recv < gapFrom && !d.InGap("ESZ6", s.recv) {
			t.Fatalf("quote sent at %d (before the crash gap from %d) neither stored nor in a gap", s.recv, gapFrom)
		}
	}
	if len(res.Gaps) != 1 && len(d.Kind("ESZ6", "stop")) == 0 {
		t.Errorf("neither a stop row nor a crash gap: %+v", res)
	}
	t.Logf("sent %d, stored %d", len(out), len(d.Quotes["ESZ6"]))
}
