package verify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

func TestRun_CleanRunHasNoGapsOrSilences(t *testing.T) {
	f := newFixture(t)
	f.events("ESZ6", ev(schema.KindStart, "r1", at(0)), ev(schema.KindStop, "r1", at(10*time.Minute)))
	f.quotes("ESZ6", every(time.Second, 10*time.Minute-time.Second, time.Second)...)
	f.dom("ESZ6", every(500*time.Millisecond, 5*time.Minute, 10*time.Second)...)
	rep := mustRun(t, testConfig(f.root))
	if !rep.OK || rep.GapsOverMax != 0 || rep.Silences != 0 {
		t.Fatalf("report not OK: %+v", rep)
	}
	s := findSymbol(t, rep, "ESZ6")
	if s.Runs != 1 || len(s.Gaps) != 0 || len(s.Silences) != 0 {
		t.Fatalf("symbol: runs %d gaps %v silences %v", s.Runs, s.Gaps, s.Silences)
	}
	d := findDay(t, s, "2026-11-25")
	if got := d.Tables["quotes"].Rows; got != 599 {
		t.Errorf("quotes rows = %d, want 599", got)
	}
	if got := d.Tables["dom"].Rows; got != 30 {
		t.Errorf("dom rows = %d, want 30", got)
	}
	if got := d.Tables["events"].Rows; got != 2 {
		t.Errorf("events rows = %d, want 2", got)
	}
	if d.DataRows != 629 || rep.DataRows != 629 {
		t.Errorf("data rows = %d / %d, want 629", d.DataRows, rep.DataRows)
	}
	if d.First.UnixNano() != at(500*time.Millisecond) || d.Last.UnixNano() != at(10*time.Minute-time.Second) {
		t.Errorf("first/last = %v / %v", d.First, d.Last)
	}
	if !d.OK {
		t.Errorf("day not OK")
	}
}

func TestRun_MarkedGapAndSilence(t *testing.T) {
	f := newFixture(t)
	// Data every second from 0 to 20m, except: 5m..7m (covered by a gap
	// row), and 12m..13m (nothing: an unmarked silence of 60 s).
	var recv []int64
	for d := time.Duration(0); d <= 20*time.Minute; d += time.Second {
		if (d > 5*time.Minute && d < 7*time.Minute) || (d > 12*time.Minute && d < 13*time.Minute) {
			continue
		}
		recv = append(recv, at(d))
	}
	f.quotes("ESZ6", recv...)
	f.events("ESZ6",
		ev(schema.KindStart, "r1", at(0)),
		gapEv("r1", schema.ReasonEOF, at(7*time.Minute), at(5*time.Minute+200*time.Millisecond), at(7*time.Minute), `{"tables":["quotes","dom"]}`),
		ev(schema.KindStop, "r1", at(20*time.Minute)))
	rep := mustRun(t, testConfig(f.root))
	if rep.OK || rep.GapsOverMax != 1 || rep.Silences != 1 {
		t.Fatalf("ok %v gaps over %d silences %d", rep.OK, rep.GapsOverMax, rep.Silences)
	}
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Gaps) != 1 {
		t.Fatalf("gaps = %+v", s.Gaps)
	}
	g := s.Gaps[0]
	if g.DurationNS != int64(2*time.Minute-200*time.Millisecond) || !g.OverMax || g.Reasons["eof"] != 1 || g.Rows != 1 {
		t.Errorf("gap = %+v", g)
	}
	if strings.Join(g.Tables, ",") != "dom,quotes" || strings.Join(g.Runs, ",") != "r1" {
		t.Errorf("gap tables/runs = %v %v", g.Tables, g.Runs)
	}
	if len(s.Silences) != 1 {
		t.Fatalf("silences = %+v", s.Silences)
	}
	si := s.Silences[0]
	if si.Start.UnixNano() != at(12*time.Minute) || si.End.UnixNano() != at(13*time.Minute) || si.DurationNS != int64(time.Minute) {
		t.Errorf("silence = %+v", si)
	}
	d := findDay(t, s, "2026-11-25")
	if d.Gaps.Count != 1 || d.Gaps.TotalNS != g.DurationNS || d.Gaps.LongestNS != g.DurationNS || d.Gaps.OverMax != 1 || d.Gaps.Reasons["eof"] != 1 {
		t.Errorf("day gaps = %+v", d.Gaps)
	}
	if d.Silences.Count != 1 || d.Silences.TotalNS != int64(time.Minute) || d.Silences.LongestNS != int64(time.Minute) {
		t.Errorf("day silences = %+v", d.Silences)
	}
	if d.OK {
		t.Error("day OK despite a gap over max and a silence")
	}

	// With thresholds above both, the same dataset passes.
	cfg := testConfig(f.root)
	cfg.MaxGap, cfg.Silence = 3*time.Minute, 2*time.Minute
	rep = mustRun(t, cfg)
	if !rep.OK || rep.Silences != 0 || rep.GapsOverMax != 0 {
		t.Errorf("relaxed thresholds: ok %v gaps over %d silences %d", rep.OK, rep.GapsOverMax, rep.Silences)
	}
}

func TestRun_SilenceInsideGapIsNotUnmarked(t *testing.T) {
	f := newFixture(t)
	f.quotes("ESZ6", append(every(0, time.Minute, time.Second), every(10*time.Minute, 11*time.Minute, time.Second)...)...)
	f.events("ESZ6",
		ev(schema.KindStart, "r1", at(0)),
		gapEv("r1", schema.ReasonStale, at(10*time.Minute), at(time.Minute), at(10*time.Minute), ""),
		ev(schema.KindStop, "r1", at(11*time.Minute)))
	cfg := testConfig(f.root)
	cfg.MaxGap = 10 * time.Minute
	rep := mustRun(t, cfg)
	if !rep.OK || rep.Silences != 0 {
		t.Fatalf("ok %v silences %+v", rep.OK, findSymbol(t, rep, "ESZ6").Silences)
	}
}

func TestRun_BadInput(t *testing.T) {
	t.Run("missing folder", func(t *testing.T) {
		_, err := Run(t.Context(), testConfig(filepath.Join(t.TempDir(), "nope")))
		var bad *BadInputError
		if !errors.As(err, &bad) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a dataset", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "x.txt"), []byte("x"), 0o644)
		_, err := Run(t.Context(), testConfig(dir))
		if !errors.Is(err, ErrNotDataset) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a table folder", func(t *testing.T) {
		f := newFixture(t)
		f.quotes("ESZ6", at(0))
		_, err := Run(t.Context(), testConfig(filepath.Join(f.root, "quotes")))
		if !errors.Is(err, ErrNotDataset) || !strings.Contains(err.Error(), "give its parent folder") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a file", func(t *testing.T) {
		f := newFixture(t)
		_, err := Run(t.Context(), testConfig(f.quotes("ESZ6", at(0))))
		var bad *BadInputError
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), "not a folder") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("truncated file", func(t *testing.T) {
		f := newFixture(t)
		f.quotes("ESZ6", every(0, time.Minute, time.Second)...)
		p := f.quotes("ESZ6", every(2*time.Minute, 3*time.Minute, time.Second)...)
		st, _ := os.Stat(p)
		if err := os.Truncate(p, st.Size()/2); err != nil {
			t.Fatal(err)
		}
		_, err := Run(t.Context(), testConfig(f.root))
		var bad *BadInputError
		if !errors.As(err, &bad) || bad.Path != p {
			t.Fatalf("err = %v, want BadInputError naming %s", err, p)
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("message %q does not name the file", err)
		}
		cfg := testConfig(f.root)
		cfg.SkipBad = true
		rep := mustRun(t, cfg)
		if len(rep.Skipped) != 1 || rep.Skipped[0].Path != p {
			t.Fatalf("skipped = %+v", rep.Skipped)
		}
		if got := findDay(t, findSymbol(t, rep, "ESZ6"), "2026-11-25").Tables["quotes"].Rows; got != 61 {
			t.Errorf("rows with the bad file skipped = %d, want 61", got)
		}
	})
	t.Run("garbage file", func(t *testing.T) {
		f := newFixture(t)
		f.quotes("ESZ6", every(0, time.Minute, time.Second)...)
		p := filepath.Join(filepath.Dir(f.quotes("ESZ6", at(0))), "junk.parquet")
		os.WriteFile(p, []byte("PAR1 this is not parquet PAR1"), 0o644)
		_, err := Run(t.Context(), testConfig(f.root))
		var bad *BadInputError
		if !errors.As(err, &bad) || bad.Path != p {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRun_IgnoresTemporaryFiles(t *testing.T) {
	f := newFixture(t)
	p := f.quotes("ESZ6", every(0, time.Minute, time.Second)...)
	dir := filepath.Dir(p)
	// A half-written temporary file and a stray non-Parquet file.
	os.WriteFile(filepath.Join(dir, ".w1-0009.parquet.tmp"), []byte("PAR1 half"), 0o644)
	os.WriteFile(filepath.Join(dir, ".w1-0010.parquet"), []byte("PAR1 half"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	rep := mustRun(t, testConfig(f.root))
	if rep.Files != 1 || len(rep.Skipped) != 0 {
		t.Fatalf("files %d skipped %v", rep.Files, rep.Skipped)
	}
}

func TestRun_BadPartitionFolders(t *testing.T) {
	for _, name := range []string{"date=2026-13-45", "dt=2026-11-25", filepath.Join("date=2026-11-25", "symbol=ES%ZZ"), filepath.Join("date=2026-11-25", "sym=ESZ6")} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.quotes("ESZ6", every(0, time.Minute, time.Second)...)
			bad := filepath.Join(f.root, "quotes", name)
			if err := os.MkdirAll(bad, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := Run(t.Context(), testConfig(f.root))
			var be *BadInputError
			if !errors.As(err, &be) || be.Path != bad {
				t.Fatalf("err = %v, want a BadInputError naming %s", err, bad)
			}
			cfg := testConfig(f.root)
			cfg.SkipBad = true
			rep := mustRun(t, cfg)
			if len(rep.Skipped) != 1 || rep.Skipped[0].Path != bad || rep.DataRows != 61 {
				t.Fatalf("skip-bad: skipped %+v rows %d", rep.Skipped, rep.DataRows)
			}
		})
	}
}

func TestRun_MalformedGapRows(t *testing.T) {
	f := newFixture(t)
	f.quotes("ESZ6", every(0, time.Minute, time.Second)...)
	noStart := gapEv("r1", schema.ReasonEOF, at(30*time.Second), 0, at(30*time.Second), "")
	noStart.GapStart = nil
	f.events("ESZ6", ev(schema.KindStart, "r1", at(0)), noStart,
		gapEv("r1", schema.ReasonEOF, at(40*time.Second), at(40*time.Second), at(35*time.Second), "not json"),
		gapEv("r1", "", at(50*time.Second), at(45*time.Second), at(50*time.Second), "not json"),
		ev(schema.KindStop, "r1", at(time.Minute)))
	rep := mustRun(t, testConfig(f.root))
	s := findSymbol(t, rep, "ESZ6")
	if s.BadGapRows != 2 || len(s.Gaps) != 1 || s.Gaps[0].Reasons[""] != 1 || len(s.Gaps[0].Tables) != 0 {
		t.Fatalf("bad rows %d gaps %+v", s.BadGapRows, s.Gaps)
	}
	var b strings.Builder
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "2 gap rows without gap_start/gap_end (or ending before they start) were left out") {
		t.Errorf("text report does not mention the malformed rows:\n%s", b.String())
	}
}
