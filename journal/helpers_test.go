package journal

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// faultFS is the OS file system with failures switched on for the files
// whose path contains match ("" = every file).
type faultFS struct {
	storage.OSFS
	mu        sync.Mutex
	match     string
	writeErr  error
	syncErr   error
	createErr error         // creating a file fails with it
	syncGate  chan struct{} // when set, an fsync waits for it to close
	writes    int           // failed writes
	syncs     int           // failed fsyncs
}

func (f *faultFS) set(fn func(*faultFS)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (storage.File, error) {
	f.mu.Lock()
	cerr := f.createErr
	f.mu.Unlock()
	if cerr != nil && flag&os.O_CREATE != 0 && strings.Contains(name, f.match) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: cerr}
	}
	of, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{f: of, fs: f, name: name}, nil
}

type faultFile struct {
	f    *os.File
	fs   *faultFS
	name string
}

func (ff *faultFile) hit() bool { return strings.Contains(ff.name, ff.fs.match) }

func (ff *faultFile) Write(p []byte) (int, error) {
	ff.fs.mu.Lock()
	err := ff.fs.writeErr
	if err != nil && ff.hit() {
		ff.fs.writes++
	} else {
		err = nil
	}
	ff.fs.mu.Unlock()
	if err != nil {
		n, _ := ff.f.Write(p[:len(p)/3]) // a filling disk takes part of it
		return n, &fs.PathError{Op: "write", Path: ff.name, Err: err}
	}
	return ff.f.Write(p)
}

func (ff *faultFile) Sync() error {
	ff.fs.mu.Lock()
	gate := ff.fs.syncGate
	ff.fs.mu.Unlock()
	if gate != nil && ff.hit() {
		<-gate
	}
	ff.fs.mu.Lock()
	err := ff.fs.syncErr
	if err != nil && ff.hit() {
		ff.fs.syncs++
	} else {
		err = nil
	}
	ff.fs.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "sync", Path: ff.name, Err: err}
	}
	return ff.f.Sync()
}

func (ff *faultFile) Close() error { return ff.f.Close() }

// clock is a settable wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a journaled dataset of one run, written by the test as the
// capture writer would.
type rig struct {
	t     *testing.T
	root  string
	run   string
	clk   *clock
	fs    storage.FS
	ds    *storage.Dataset
	j     *Journal
	s     *Sink
	seq   map[string]int64
	recv  int64
	qrows map[string][]int64 // symbol -> seqs written
}

func newRig(t *testing.T, root, run string, fsys storage.FS) *rig {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)}
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: run, RollInterval: time.Minute,
		RowGroupRows: 64, FS: fsys, Now: clk.now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	j, err := Open(Config{Root: root, WriterID: "w", RunID: run, Start: clk.now(), FS: fsys, Now: clk.now,
		SegmentAge: 10 * time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, root: root, run: run, clk: clk, fs: fsys, ds: ds, j: j, s: NewSink(ds, j),
		seq: map[string]int64{}, recv: clk.now().UnixNano(), qrows: map[string][]int64{}}
}

func f64(v float64) *float64 { return &v }

// quotes writes n quotes per symbol, 1 ms apart, and returns the last
// receive time.
func (r *rig) quotes(n int, syms ...string) int64 {
	r.t.Helper()
	for i := 0; i < n; i++ {
		r.recv += int64(time.Millisecond)
		for _, s := range syms {
			r.seq[s]++
			q := schema.Quote{RecvTS: r.recv, TS: r.recv - 1000, ContractID: 7, ConnID: 1, Seq: r.seq[s],
				BidPrice: f64(6000 + float64(i%8)*0.25), AskSize: f64(3)}
			if err := r.s.WriteQuote(s, &q); err != nil {
				r.t.Fatalf("write quote: %v", err)
			}
			r.qrows[s] = append(r.qrows[s], r.seq[s])
		}
	}
	return r.recv
}

func (r *rig) event(sym, kind string) {
	r.t.Helper()
	r.recv += int64(time.Millisecond)
	e := schema.Event{RecvTS: r.recv, RunID: r.run, Kind: kind, Detail: "{}"}
	if err := r.s.WriteEvent(sym, &e); err != nil {
		r.t.Fatalf("write event: %v", err)
	}
}

// roll advances the clock by d and calls the writer's periodic Roll.
func (r *rig) roll(d time.Duration) error {
	r.clk.add(d)
	return rollAndWait(r.s, r.clk.now())
}

// recoverAll runs Recover for writer "w" over the rig's root.
func recoverAll(t *testing.T, root string, fsys storage.FS, syms ...string) Recovered {
	t.Helper()
	res, err := Recover(RecoverConfig{Root: root, WriterID: "w", Symbols: syms,
		Storage: storage.Config{FS: fsys, Logger: zerolog.Nop()}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	return res
}

// readBack reads the dataset as a user does and checks that every quotes
// row of sym is there exactly once with seq 1..n.
func checkQuotes(t *testing.T, root, sym string, n int) *capturetest.Dataset {
	t.Helper()
	d, err := capturetest.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	rows := d.Quotes[sym]
	if len(rows) != n {
		t.Errorf("%s: %d quotes, want %d", sym, len(rows), n)
	}
	for i, q := range rows {
		if q.Seq != int64(i+1) {
			t.Fatalf("%s: row %d has seq %d (duplicate or hole)", sym, i, q.Seq)
		}
		if q.BidPrice == nil || q.AskSize == nil || q.AskPrice != nil {
			t.Fatalf("%s: row %d lost its NULL pattern: %+v", sym, i, q)
		}
	}
	return d
}

// rollAndWait is the writer's periodic Roll, then waits for the journal's
// part of it (which the writer does not wait for) and returns its error
// too: the tests look at its outcome at once.
func rollAndWait(s *Sink, now time.Time) error {
	err := errors.Join(s.Roll(now), s.j.rollWait())
	// The dataset finalises on its own goroutine: once it is done, a
	// second Roll hands the journal the advanced watermark.
	s.Dataset().WaitFinalised()
	return errors.Join(err, s.Roll(now), s.j.rollWait())
}
