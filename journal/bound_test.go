package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// segsOnDisk counts the segments of a run on disk and their bytes.
func segsOnDisk(t *testing.T, root, run string) (n, bytes int64) {
	t.Helper()
	des, err := os.ReadDir(RunDir(root, "w", run))
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if filepath.Ext(de.Name()) != segExt {
			continue
		}
		info, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		n, bytes = n+1, bytes+info.Size()
	}
	return n, bytes
}

// After the dataset abandons a file, the segments holding its rows are
// kept for the next start only up to MaxHeld: a busy feed writing for
// hours afterwards does not fill the disk with journal. The oldest are
// released first; what stays still replays without duplicates, and every
// row outside the abandoned file is stored once.
func TestSink_SegmentsHeldForAnAbandonedFileAreBounded(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{match: ".parquet"}
	clk := &clock{t: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)}
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", RollInterval: time.Minute,
		RowGroupRows: 64, MaxPendingBytes: 1, FS: ffs, Now: clk.now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	const maxHeld = 8 << 10
	j, err := Open(Config{Root: root, WriterID: "w", RunID: "w-1", Start: clk.now(), FS: ffs, Now: clk.now,
		SegmentAge: 10 * time.Second, MaxHeld: maxHeld, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSink(ds, j)
	refused := map[int64]bool{}
	seq := int64(0)
	write := func(n int, stopAtError bool) {
		for k := 0; k < n; k++ {
			seq++
			q := schema.Quote{RecvTS: clk.now().UnixNano() + seq*1000, TS: seq, Seq: seq,
				BidPrice: f64(6000 + float64(seq%97)*0.25), BidSize: f64(float64(seq*7919%1000) + 0.5), AskSize: f64(float64(seq % 13))}
			if err := s.WriteQuote("ESZ6", &q); err != nil {
				refused[seq] = true
				if stopAtError {
					return
				}
			}
		}
	}
	ffs.set(func(f *faultFS) { f.writeErr = syscall.ENOSPC })
	write(50000, true)
	ffs.set(func(f *faultFS) { f.writeErr = nil })
	if ds.Stats().FilesAbandoned == 0 {
		t.Fatalf("no file abandoned: %+v", ds.Stats())
	}
	// Hours of writing afterwards: files roll every minute, segments seal
	// every 10 s; without the bound every segment would stay.
	var peak int64
	const steps = 16
	for step := 0; step < steps; step++ {
		write(800, false)
		if err := func() error { clk.add(15 * time.Second); return rollAndWait(s, clk.now()) }(); err != nil {
			t.Fatal(err)
		}
		_, b := segsOnDisk(t, root, "w-1")
		peak = max(peak, b)
	}
	st := j.Stats()
	if st.HeldSegmentsDropped == 0 || st.HeldBytesDropped == 0 {
		t.Fatalf("nothing released past the bound: %+v", st)
	}
	// Held segments ≤ maxHeld, plus the current segment and the ones
	// sealed since the oldest open file: at most 6 steps of 15 s (a roll
	// interval, a segment's age, the step in progress) — against the
	// steps an unbounded journal keeps.
	if limit := int64(maxHeld) + 6*st.BytesWritten/steps; peak > limit {
		t.Fatalf("journal peaked at %d bytes, bound %d (written %d)", peak, limit, st.BytesWritten)
	}
	if n, b := segsOnDisk(t, root, "w-1"); st.LiveBytes != b || st.LiveSegments != n {
		t.Errorf("stats say %d live segments, %d bytes; on disk %d, %d", st.LiveSegments, st.LiveBytes, n, b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lost := ds.Stats().RowsLost
	res := recoverAll(t, root, nil, "ESZ6")
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int{}
	for _, q := range d.Quotes["ESZ6"] {
		got[q.Seq]++
	}
	missing := int64(0)
	for i := int64(1); i <= seq; i++ {
		switch {
		case got[i] > 1:
			t.Fatalf("row %d stored %d times", i, got[i])
		case got[i] == 0 && !refused[i]:
			missing++
		}
	}
	// Only rows of the abandoned file may be missing (its write_error gap
	// covers them), and the bound released some of them.
	if missing == 0 || missing > lost {
		t.Fatalf("%d rows missing, the abandoned file lost %d (replayed %d, dropped %d segments)",
			missing, lost, res.Replayed, st.HeldSegmentsDropped)
	}
	t.Logf("peak %d B, %d segments released past the bound, %d of %d abandoned rows not replayed",
		peak, st.HeldSegmentsDropped, missing, lost)
}

// Without an abandoned file nothing is bounded: the segments of files
// still open are never released early, however many.
func TestJournal_BoundNeedsAnAbandonedFile(t *testing.T) {
	root := t.TempDir()
	r := newRig(t, root, "w-1", storage.OSFS{})
	r.j.cfg.MaxHeld = 1
	for i := 0; i < 10; i++ {
		r.quotes(500, "ESZ6")
		if err := r.roll(11 * time.Second); err != nil { // < the 1 min roll interval: files stay open
			t.Fatal(err)
		}
		if i == 3 {
			r.clk.add(time.Minute) // one roll of the files: the segments before it are released
		}
	}
	if st := r.j.Stats(); st.HeldSegmentsDropped != 0 {
		t.Fatalf("segments of open files released: %+v", st)
	}
	// A crash now: every row comes back.
	recoverAll(t, root, nil, "ESZ6")
	checkQuotes(t, root, "ESZ6", 10*500)
}
