package journal

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// noSyncFS is the OS file system with fsyncs skipped: for tests and
// benchmarks that build long runs, whose durability is not the question.
type noSyncFS struct{ storage.OSFS }

type noSyncFile struct{ *os.File }

func (noSyncFile) Sync() error { return nil }

func (noSyncFS) SyncDir(string) error { return nil }

func (noSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (storage.File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

// longRun writes a run that rolled its files steps times (every file
// finalised, the journal released behind them) and then died: ESZ6 and
// NQZ6 trade throughout, CLF7 only in the first step. It returns the
// receive time of CLF7's last row and the seqs written per symbol.
func longRun(t testing.TB, root string, steps, maxOpen int) (quietLast int64, n map[string]int64) {
	clk := &clock{t: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)}
	fsys := noSyncFS{}
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", RollInterval: time.Minute,
		MaxOpenFiles: maxOpen, FS: fsys, Now: clk.now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	j, err := Open(Config{Root: root, WriterID: "w", RunID: "w-1", Start: clk.now(), FS: fsys, Now: clk.now,
		SegmentAge: 30 * time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSink(ds, j)
	n = map[string]int64{}
	recv := clk.now().UnixNano()
	for step := 0; step < steps; step++ {
		syms := []string{"ESZ6", "NQZ6"}
		if step == 0 {
			syms = append(syms, "CLF7")
		}
		for i := 0; i < 50; i++ {
			recv += int64(time.Millisecond)
			for _, sym := range syms {
				n[sym]++
				q := schema.Quote{RecvTS: recv, TS: recv, ContractID: 1, ConnID: 1, Seq: n[sym], BidPrice: f64(6000), AskSize: f64(2)}
				if err := s.WriteQuote(sym, &q); err != nil {
					t.Fatal(err)
				}
				if sym == "CLF7" {
					quietLast = recv
				}
			}
		}
		clk.add(31 * time.Second)
		recv = clk.now().UnixNano()
		if err := rollAndWait(s, clk.now()); err != nil {
			t.Fatal(err)
		}
	}
	// Rows after the last roll, made durable by a sync, then the crash.
	for i := 0; i < 20; i++ {
		recv += int64(time.Millisecond)
		n["ESZ6"]++
		q := schema.Quote{RecvTS: recv, TS: recv, ContractID: 1, ConnID: 1, Seq: n["ESZ6"], BidPrice: f64(6000), AskSize: f64(2)}
		if err := s.WriteQuote("ESZ6", &q); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	return quietLast, n
}

// Recovery after a long run reads the files a journal row may be in and
// the newest file of each table and symbol, not every file of the run:
// the same number after 8 rolls as after 80, with every row stored once
// and the crash gap of a symbol quiet since the start still starting at
// its last row.
func TestRecover_StartCostDoesNotGrowWithTheRun(t *testing.T) {
	opened := map[int]int{}
	for _, steps := range []int{8, 80} {
		root := t.TempDir()
		quietLast, n := longRun(t, root, steps, 0)
		files, err := storage.List(root)
		if err != nil {
			t.Fatal(err)
		}
		res := recoverAll(t, root, noSyncFS{}, "ESZ6", "NQZ6", "CLF7")
		opened[steps] = res.FilesOpened
		t.Logf("%d rolls: %d files, recovery opened %d, replayed %d", steps, len(files), res.FilesOpened, res.Replayed)
		if res.Replayed == 0 {
			t.Fatalf("nothing replayed: %+v", res)
		}
		for sym, want := range n {
			checkQuotes(t, root, sym, int(want))
		}
		var gap *Gap
		for i := range res.Gaps {
			if res.Gaps[i].Symbol == "CLF7" {
				gap = &res.Gaps[i]
			}
		}
		if gap == nil || gap.Start != quietLast {
			t.Fatalf("CLF7's crash gap %+v, want it from its last row %d", gap, quietLast)
		}
	}
	if opened[80] != opened[8] || opened[8] > 8 {
		t.Fatalf("files opened by recovery: %v (want the same few whatever the run's length)", opened)
	}
}

// A journal whose segments do not say their low bound (written by an
// earlier recorder) is recovered as before: every file is read.
func TestRecover_SegmentsWithoutALowBoundReadEveryFile(t *testing.T) {
	root := t.TempDir()
	_, n := longRun(t, root, 6, 0)
	runs, err := Runs(nil, root, "w")
	if err != nil || len(runs) != 1 || runs[0].Low == 0 {
		t.Fatalf("runs %+v, %v", runs, err)
	}
	for _, p := range runs[0].Segments {
		dir, name := filepath.Split(p)
		num, _, _ := strings.Cut(name, "-")
		if err := os.Rename(p, filepath.Join(dir, strings.TrimSuffix(num, segExt)+segExt)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := storage.List(root)
	if err != nil {
		t.Fatal(err)
	}
	final := 0
	for _, f := range files {
		if !f.Temp {
			final++
		}
	}
	res := recoverAll(t, root, noSyncFS{}, "ESZ6", "NQZ6", "CLF7")
	if res.FilesOpened != final {
		t.Fatalf("opened %d of %d finalised files", res.FilesOpened, final)
	}
	for sym, want := range n {
		checkQuotes(t, root, sym, int(want))
	}
}

// Files the dataset finalises inside a write (its cap on open files) are
// covered too: a block's bound is taken before its first row is written.
func TestRecover_LowBoundHoldsWhenTheOpenFileCapFinalises(t *testing.T) {
	root := t.TempDir()
	_, n := longRun(t, root, 3, 2)
	recoverAll(t, root, noSyncFS{}, "ESZ6", "NQZ6", "CLF7")
	for sym, want := range n {
		checkQuotes(t, root, sym, int(want))
	}
}

// BenchmarkRecoverLongRun is recovery's start-up after a run that rolled
// its files 1000 times (about 2000 files), with the segments' low bound
// and without it (every file's footer read, as before).
//
//	go test -run - -bench RecoverLongRun -benchtime 3x ./journal
func BenchmarkRecoverLongRun(b *testing.B) {
	for _, bound := range []bool{true, false} {
		b.Run(map[bool]string{true: "low-bound", false: "every-file"}[bound], func(b *testing.B) {
			var opened int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				root := b.TempDir()
				longRun(b, root, 1000, 0)
				if !bound {
					runs, _ := Runs(nil, root, "w")
					for _, p := range runs[0].Segments {
						dir, name := filepath.Split(p)
						num, _, _ := strings.Cut(name, "-")
						if err := os.Rename(p, filepath.Join(dir, strings.TrimSuffix(num, segExt)+segExt)); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StartTimer()
				res, err := Recover(RecoverConfig{Root: root, WriterID: "w", Symbols: []string{"ESZ6", "NQZ6", "CLF7"},
					Storage: storage.Config{FS: noSyncFS{}, Logger: zerolog.Nop()}, Logger: zerolog.Nop()})
				if err != nil {
					b.Fatal(err)
				}
				opened = res.FilesOpened
			}
			b.ReportMetric(float64(opened), "files_opened")
		})
	}
}
