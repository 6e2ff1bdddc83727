package journal

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// The writer's Roll does not wait for the journal's fsync: it returns
// while the disk is still syncing, the next Sync waits for it, and then
// every row appended before the Roll survives a crash.
func TestSink_RollDoesNotWaitForTheFsync(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{match: segExt}
	r := newRig(t, root, "w-1", ffs)
	r.quotes(100, "ESZ6")
	gate := make(chan struct{})
	ffs.set(func(f *faultFS) { f.syncGate = gate })
	r.clk.add(time.Second)
	done := make(chan error, 1)
	go func() { done <- r.s.Roll(r.clk.now()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatal("Roll waited for the journal's fsync")
	}
	r.quotes(50, "ESZ6") // the writer goes on while the disk syncs
	ffs.set(func(f *faultFS) { f.syncGate = nil })
	close(gate)
	if err := r.j.Sync(); err != nil {
		t.Fatal(err)
	}
	recoverAll(t, root, nil, "ESZ6")
	checkQuotes(t, root, "ESZ6", 150)
}

// A failed fsync started by a Roll is reported by what comes next — the
// next Roll or Sync — not lost because nobody waited for it.
func TestSink_RollsFsyncFailureIsReportedNext(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{match: segExt}
	r := newRig(t, root, "w-1", ffs)
	r.quotes(100, "ESZ6")
	ffs.set(func(f *faultFS) { f.syncErr = syscall.EIO })
	r.clk.add(time.Second)
	if err := r.s.Roll(r.clk.now()); err != nil {
		t.Fatalf("first Roll: %v (it reports the previous one's outcome: none)", err)
	}
	if err := r.j.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync after the failed Roll: %v, want EIO", err)
	}
	ffs.set(func(f *faultFS) { f.syncErr = nil })
	r.quotes(100, "ESZ6")
	if err := r.roll(time.Second); err != nil {
		t.Fatal(err)
	}
	if st := r.j.Stats(); st.SyncErrors == 0 {
		t.Fatalf("no sync error counted: %+v", st)
	}
	recoverAll(t, root, storage.OSFS{}, "ESZ6")
	checkQuotes(t, root, "ESZ6", 200)
}

// Rows appended after Close or Remove are not journaled, and nothing
// panics: the flusher has ended.
func TestJournal_AppendAfterCloseIsIgnored(t *testing.T) {
	for _, remove := range []bool{false, true} {
		root := t.TempDir()
		r := newRig(t, root, "w-1", storage.OSFS{})
		r.quotes(10, "ESZ6")
		var err error
		if remove {
			err = r.j.Remove()
		} else {
			err = r.j.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		before := r.j.Stats()
		q := schema.Quote{RecvTS: 1, Seq: 99}
		for i := 0; i < 20000; i++ { // more than a block
			r.j.AppendQuote("ESZ6", &q)
		}
		if err := r.j.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := r.j.Close(); err != nil {
			t.Fatal(err)
		}
		if after := r.j.Stats(); after.BytesWritten != before.BytesWritten {
			t.Fatalf("journaled after close: %+v -> %+v", before, after)
		}
	}
}
