package storage

import (
	"math"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// TestSlowFsyncDoesNotBlockWriter: while a finalised file's fsync hangs,
// Write, size rolls and Roll go on; the file stays unfinished
// (OldestUnfinished, Stats, no final name) until the fsync is released;
// then it and every later file are finalised and Close leaves no
// temporary file.
func TestSlowFsyncDoesNotBlockWriter(t *testing.T) {
	gate := make(chan struct{})
	ffs := &faultFS{syncGate: gate}
	cfg := testConfig(t)
	cfg.FS = ffs
	cfg.RollSize = 8 << 10
	d := openDS(t, cfg)
	g := newQuoteGen(7)
	var r schema.Quote
	write := func(n int) {
		for i := 0; i < n; i++ {
			g.next(&r, false)
			if err := d.WriteQuote("ESZ6", &r); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}
	write(50)
	first := d.FileCounter()
	// Everything below runs while no fsync can finish: it must not wait
	// for one.
	blocked := make(chan struct{})
	go func() {
		defer close(blocked)
		if err := d.Roll(time.Now().Add(time.Hour)); err != nil {
			t.Errorf("Roll: %v", err)
		}
		write(1000) // several size rolls, all queued behind the hanging fsync
		if err := d.Roll(t0); err != nil {
			t.Errorf("Roll: %v", err)
		}
	}()
	select {
	case <-blocked:
	case <-time.After(20 * time.Second):
		close(gate)
		<-blocked
		t.Fatal("Write/Roll waited for a hanging fsync")
	}
	if t.Failed() {
		close(gate)
		return
	}
	st := d.Stats()
	if st.FilesFinalising < 2 || st.FilesFinalised != 0 || st.FilesPending != st.FilesFinalising {
		close(gate)
		t.Fatalf("stats while the fsync hangs: %+v", st)
	}
	if low := d.OldestUnfinished(); low != first {
		close(gate)
		t.Fatalf("OldestUnfinished %d while file %d's fsync hangs", low, first)
	}
	if n := len(parquetFiles(t, cfg.Root, "quotes")); n != 0 {
		close(gate)
		t.Fatalf("%d files visible before their fsync", n)
	}
	handed := st.FilesFinalising
	close(gate)
	d.WaitFinalised()
	st = d.Stats()
	if st.FilesFinalising != 0 || st.FilesFinalised != int64(handed) || st.FilesPending != 0 {
		t.Fatalf("stats after release: %+v (handed %d)", st, handed)
	}
	open := d.FileCounter() // the file taking rows now
	if low := d.OldestUnfinished(); low != open {
		t.Fatalf("OldestUnfinished %d after release, want the open file %d", low, open)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if low := d.OldestUnfinished(); low != math.MaxUint64 {
		t.Fatalf("OldestUnfinished %d after Close", low)
	}
	if got := readAll[schema.Quote](t, parquetFiles(t, cfg.Root, "quotes")); len(got) != 1050 {
		t.Fatalf("read %d rows, want 1050", len(got))
	}
	if tf := tempFiles(t, cfg.Root); len(tf) != 0 {
		t.Fatalf("temporary files %v", tf)
	}
}

// TestCloseWaitsForFinaliser: Close returns only after the finaliser has
// finished every file handed to it, even one whose fsync hangs when
// Close starts.
func TestCloseWaitsForFinaliser(t *testing.T) {
	gate := make(chan struct{})
	ffs := &faultFS{syncGate: gate}
	cfg := testConfig(t)
	cfg.FS = ffs
	d := openDS(t, cfg)
	for _, sym := range []string{"ESZ6", "NQZ6", "CLZ6"} {
		if err := d.WriteQuote(sym, &schema.Quote{RecvTS: t0.UnixNano(), Seq: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Roll(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	close(gate)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := len(parquetFiles(t, cfg.Root, "quotes")); n != 3 {
		t.Fatalf("%d files finalised when Close returned, want 3", n)
	}
	if st := d.Stats(); st.FilesFinalised != 3 || st.FilesFinalising != 0 {
		t.Fatalf("stats %+v", st)
	}
}
