package verify

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

func TestRun_OverlappingGapsFromTwoWritersMerge(t *testing.T) {
	f := newFixture(t)
	f.quotes("ESZ6", append(every(0, 5*time.Minute, time.Second), every(8*time.Minute, 10*time.Minute, time.Second)...)...)
	f.events("ESZ6", ev(schema.KindStart, "w1-a", at(0)),
		gapEv("w1-a", schema.ReasonEOF, at(7*time.Minute), at(5*time.Minute), at(7*time.Minute), `{"tables":["quotes"]}`),
		ev(schema.KindStop, "w1-a", at(10*time.Minute)))
	f.events("ESZ6", ev(schema.KindStart, "w2-a", at(0)),
		gapEv("w2-a", schema.ReasonStale, at(8*time.Minute), at(6*time.Minute), at(8*time.Minute), `{"tables":["quotes","dom"]}`),
		// the same gap row written twice (e.g. replayed journal) counts once in time
		gapEv("w2-a", schema.ReasonStale, at(8*time.Minute), at(6*time.Minute), at(8*time.Minute), `{"tables":["quotes","dom"]}`),
		ev(schema.KindStop, "w2-a", at(10*time.Minute)))
	cfg := testConfig(f.root)
	cfg.MaxGap = 2 * time.Minute
	rep := mustRun(t, cfg)
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Gaps) != 1 {
		t.Fatalf("gaps = %+v", s.Gaps)
	}
	g := s.Gaps[0]
	if g.Start.UnixNano() != at(5*time.Minute) || g.End.UnixNano() != at(8*time.Minute) || g.DurationNS != int64(3*time.Minute) {
		t.Errorf("merged gap = %v → %v", g.Start, g.End)
	}
	if g.Rows != 3 || g.Reasons["eof"] != 1 || g.Reasons["stale"] != 2 || strings.Join(g.Runs, ",") != "w1-a,w2-a" || strings.Join(g.Tables, ",") != "dom,quotes" {
		t.Errorf("merged gap = %+v", g)
	}
	if !g.OverMax || rep.GapsOverMax != 1 || rep.OK {
		t.Errorf("3m gap vs 2m max: over %v, report over %d ok %v", g.OverMax, rep.GapsOverMax, rep.OK)
	}
	d := findDay(t, s, "2026-11-25")
	if d.Gaps.Count != 1 || d.Gaps.TotalNS != int64(3*time.Minute) || d.Gaps.Reasons["stale"] != 2 {
		t.Errorf("day gaps = %+v", d.Gaps)
	}
	if rep.Silences != 0 {
		t.Errorf("silences = %+v", s.Silences)
	}
	if s.Runs != 2 {
		t.Errorf("runs = %d", s.Runs)
	}
}

func TestRun_GapAcrossMidnightSplitsIntoBothDates(t *testing.T) {
	f := newFixture(t)
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rel := func(d time.Duration) int64 { return midnight.Add(d).UnixNano() }
	var day1, day2 []int64
	for d := -10 * time.Minute; d <= -time.Minute; d += time.Second {
		day1 = append(day1, rel(d))
	}
	for d := 2 * time.Minute; d <= 10*time.Minute; d += time.Second {
		day2 = append(day2, rel(d))
	}
	f.quotes("ESZ6", day1...)
	f.quotes("ESZ6", day2...)
	f.events("ESZ6", ev(schema.KindStart, "r1", rel(-10*time.Minute)))
	// The gap row is written when the gap ends: in the next date's partition.
	f.events("ESZ6", gapEv("r1", schema.ReasonReadError, rel(2*time.Minute), rel(-time.Minute), rel(2*time.Minute), ""),
		ev(schema.KindStop, "r1", rel(10*time.Minute)))
	cfg := testConfig(f.root)
	cfg.MaxGap = 5 * time.Minute
	rep := mustRun(t, cfg)
	if !rep.OK {
		t.Fatalf("not OK: %+v", rep)
	}
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Gaps) != 1 || s.Gaps[0].DurationNS != int64(3*time.Minute) {
		t.Fatalf("gaps = %+v", s.Gaps)
	}
	d1, d2 := findDay(t, s, "2026-11-25"), findDay(t, s, "2026-11-26")
	if d1.Gaps.Count != 1 || d1.Gaps.TotalNS != int64(time.Minute) || d1.Gaps.LongestNS != int64(3*time.Minute) {
		t.Errorf("day 1 gaps = %+v", d1.Gaps)
	}
	if d2.Gaps.Count != 1 || d2.Gaps.TotalNS != int64(2*time.Minute) || d2.Gaps.LongestNS != int64(3*time.Minute) || d2.Gaps.Reasons["read_error"] != 1 {
		t.Errorf("day 2 gaps = %+v", d2.Gaps)
	}
	if d1.Tables["quotes"].Rows != int64(len(day1)) || d2.Tables["quotes"].Rows != int64(len(day2)) {
		t.Errorf("rows = %d / %d", d1.Tables["quotes"].Rows, d2.Tables["quotes"].Rows)
	}
	if len(s.Silences) != 0 {
		t.Errorf("silences = %+v", s.Silences)
	}
}

func TestRun_SilenceAcrossMidnightSplitsIntoBothDates(t *testing.T) {
	f := newFixture(t)
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rel := func(d time.Duration) int64 { return midnight.Add(d).UnixNano() }
	f.quotes("ESZ6", rel(-3*time.Minute), rel(-2*time.Minute-30*time.Second), rel(-2*time.Minute))
	f.quotes("ESZ6", rel(time.Minute), rel(time.Minute+time.Second))
	f.events("ESZ6", ev(schema.KindStart, "r1", rel(-3*time.Minute)))
	f.events("ESZ6", ev(schema.KindStop, "r1", rel(2*time.Minute)))
	rep := mustRun(t, testConfig(f.root))
	s := findSymbol(t, rep, "ESZ6")
	// 23:58:00 → 00:01:00 silent (3 m), and 00:01:01 → the stop at 00:02 (59 s).
	if len(s.Silences) != 2 || s.Silences[0].DurationNS != int64(3*time.Minute) || s.Silences[1].DurationNS != int64(59*time.Second) {
		t.Fatalf("silences = %+v", s.Silences)
	}
	d1, d2 := findDay(t, s, "2026-11-25"), findDay(t, s, "2026-11-26")
	if d1.Silences.Count != 1 || d1.Silences.TotalNS != int64(2*time.Minute) || d1.Silences.LongestNS != int64(3*time.Minute) {
		t.Errorf("day 1 silences = %+v", d1.Silences)
	}
	if d2.Silences.Count != 2 || d2.Silences.TotalNS != int64(time.Minute+59*time.Second) {
		t.Errorf("day 2 silences = %+v", d2.Silences)
	}
	if rep.OK || rep.Silences != 2 {
		t.Errorf("ok %v silences %d", rep.OK, rep.Silences)
	}
}

func TestRun_CrashGapComesFromNextRun(t *testing.T) {
	build := func(t *testing.T, withRecoveryGap bool) *Report {
		f := newFixture(t)
		f.quotes("ESZ6", every(0, 5*time.Minute, time.Second)...)
		f.quotes("ESZ6", every(8*time.Minute+time.Second, 10*time.Minute, time.Second)...)
		// r1 crashed: no stop row.
		f.events("ESZ6", ev(schema.KindStart, "r1", at(0)), ev(schema.KindConnect, "r1", at(0)))
		rows := []schema.Event{ev(schema.KindStart, "r2", at(8*time.Minute))}
		if withRecoveryGap {
			rows = append(rows, gapEv("r2", schema.ReasonCrashRecovery, at(8*time.Minute+time.Second), at(5*time.Minute), at(8*time.Minute+time.Second), `{"tables":["quotes","dom","ticks"]}`))
		}
		rows = append(rows, ev(schema.KindStop, "r2", at(10*time.Minute)))
		f.events("ESZ6", rows...)
		cfg := testConfig(f.root)
		cfg.MaxGap = 5 * time.Minute
		return mustRun(t, cfg)
	}
	t.Run("recorded", func(t *testing.T) {
		rep := build(t, true)
		s := findSymbol(t, rep, "ESZ6")
		if !rep.OK || len(s.Silences) != 0 || len(s.Gaps) != 1 || s.Gaps[0].Reasons["crash_recovery"] != 1 || s.Gaps[0].DurationNS != int64(3*time.Minute+time.Second) {
			t.Fatalf("ok %v gaps %+v silences %+v", rep.OK, s.Gaps, s.Silences)
		}
	})
	t.Run("missing", func(t *testing.T) {
		rep := build(t, false)
		s := findSymbol(t, rep, "ESZ6")
		if rep.OK || len(s.Silences) != 1 || s.Silences[0].Start.UnixNano() != at(5*time.Minute) || s.Silences[0].End.UnixNano() != at(8*time.Minute+time.Second) {
			t.Fatalf("ok %v silences %+v", rep.OK, s.Silences)
		}
	})
}

func TestRun_NoEventsForSymbol(t *testing.T) {
	f := newFixture(t)
	// ESZ6 has events, NQZ6 has none; an empty events file for CLZ6.
	f.events("ESZ6", ev(schema.KindStart, "r1", at(0)), ev(schema.KindStop, "r1", at(time.Minute)))
	f.quotes("ESZ6", every(0, time.Minute, time.Second)...)
	f.quotes("NQZ6", append(every(0, time.Minute, time.Second), every(3*time.Minute, 4*time.Minute, time.Second)...)...)
	f.quotes("CLZ6", every(0, time.Minute, time.Second)...)
	writeFile(t, f.path(schema.TableEvents, "CLZ6", at(0)), []schema.Event{}, 10)
	rep := mustRun(t, testConfig(f.root))
	nq := findSymbol(t, rep, "NQZ6")
	if nq.Runs != 0 || len(nq.Silences) != 1 || nq.Silences[0].DurationNS != int64(2*time.Minute) {
		t.Fatalf("NQZ6 silences = %+v", nq.Silences)
	}
	// Without run information the span is first to last data row: no
	// silence before the first or after the last row.
	cl := findSymbol(t, rep, "CLZ6")
	if len(cl.Silences) != 0 || len(cl.Gaps) != 0 || findDay(t, cl, "2026-11-25").Tables["quotes"].Rows != 61 {
		t.Fatalf("CLZ6 = %+v", cl)
	}
	if es := findSymbol(t, rep, "ESZ6"); len(es.Silences) != 0 {
		t.Fatalf("ESZ6 silences = %+v", es.Silences)
	}
}

func TestRun_OverlappingFilesOfSeveralWriters(t *testing.T) {
	build := func(t *testing.T, w2Covers bool) *Report {
		f := newFixture(t)
		// w1 every even second except 3m..4m; w2 every odd second.
		var w1, w2 []int64
		for d := time.Duration(0); d <= 10*time.Minute; d += 2 * time.Second {
			if d < 3*time.Minute || d > 4*time.Minute {
				w1 = append(w1, at(d))
			}
			if w2Covers || d < 2*time.Minute || d > 5*time.Minute {
				w2 = append(w2, at(d+time.Second))
			}
		}
		f.quotes("ESZ6", w1...)
		f.quotes("ESZ6", w2...)
		f.events("ESZ6", ev(schema.KindStart, "r1", at(0)), ev(schema.KindStop, "r1", at(10*time.Minute+time.Second)))
		return mustRun(t, testConfig(f.root))
	}
	if rep := build(t, true); !rep.OK {
		t.Errorf("covered by the second writer, yet: %+v", findSymbol(t, rep, "ESZ6").Silences)
	}
	rep := build(t, false)
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Silences) != 1 || s.Silences[0].Start.UnixNano() != at(178*time.Second) || s.Silences[0].End.UnixNano() != at(242*time.Second) {
		t.Errorf("silences = %+v", s.Silences)
	}
}

func TestRun_UnsortedRowsAndAllDataTables(t *testing.T) {
	f := newFixture(t)
	recv := every(0, 10*time.Minute, time.Second)
	// drop 4m..6m from quotes but cover 4m..5m with ticks and dom rows
	var q []int64
	for _, r := range recv {
		if r < at(4*time.Minute) || r > at(6*time.Minute) {
			q = append(q, r)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
	f.quotes("ESZ6", q...)
	f.ticks("ESZ6", every(4*time.Minute, 4*time.Minute+30*time.Second, time.Second)...)
	f.dom("ESZ6", every(4*time.Minute+30*time.Second, 5*time.Minute, time.Second)...)
	f.events("ESZ6", ev(schema.KindStart, "r1", at(0)), ev(schema.KindStop, "r1", at(10*time.Minute)))
	rep := mustRun(t, testConfig(f.root))
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Silences) != 1 || s.Silences[0].Start.UnixNano() != at(5*time.Minute) || s.Silences[0].End.UnixNano() != at(6*time.Minute+time.Second) {
		t.Fatalf("silences = %+v", s.Silences)
	}
	d := findDay(t, s, "2026-11-25")
	if d.Tables["ticks"].Rows != 31 || d.Tables["dom"].Rows != 31 || d.DataRows != int64(len(q))+62 {
		t.Errorf("rows = %+v", d.Tables)
	}
	if d.First.UnixNano() != at(0) || d.Last.UnixNano() != at(10*time.Minute) {
		t.Errorf("first/last = %v %v", d.First, d.Last)
	}
}

func TestRun_HealedGaps(t *testing.T) {
	f := newFixture(t)
	f.quotes("ESZ6", append(every(0, 2*time.Minute, time.Second), every(2*time.Minute+20*time.Second, 4*time.Minute, time.Second)...)...)
	f.events("ESZ6", ev(schema.KindStart, "r1", at(0)),
		// a gap of every table: healed for ticks, stays for quotes/dom
		gapEv("r1", schema.ReasonEOF, at(2*time.Minute+20*time.Second), at(2*time.Minute), at(2*time.Minute+20*time.Second), `{"tables":["quotes","dom","ticks"]}`),
		healEv("r1", at(2*time.Minute+21*time.Second), at(2*time.Minute), at(2*time.Minute+20*time.Second), `{"tables":["ticks"],"ticks":42}`),
		// a ticks-only gap that was healed is no longer a gap
		gapEv("r1", schema.ReasonEOF, at(3*time.Minute), at(3*time.Minute), at(3*time.Minute+5*time.Second), `{"tables":["ticks"]}`),
		healEv("r1", at(3*time.Minute+6*time.Second), at(3*time.Minute), at(3*time.Minute+5*time.Second), `{"ticks":7}`),
		ev(schema.KindStop, "r1", at(4*time.Minute)))
	rep := mustRun(t, testConfig(f.root))
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Gaps) != 1 || s.Gaps[0].Healed != 1 || s.Gaps[0].HealedTicks != 42 || s.Gaps[0].DurationNS != int64(20*time.Second) {
		t.Fatalf("gaps = %+v", s.Gaps)
	}
	d := findDay(t, s, "2026-11-25")
	if d.Healed.Count != 2 || d.Healed.Ticks != 49 || d.Gaps.Count != 1 {
		t.Errorf("day healed %+v gaps %+v", d.Healed, d.Gaps)
	}
	if !rep.OK {
		t.Errorf("not OK")
	}
}

func TestRun_RunEdges(t *testing.T) {
	f := newFixture(t)
	// r1 10:00–10:05 then stopped; r2 starts 12:00 but its first data row
	// comes at 12:02 (a silence at the start of a run); nothing in
	// between counts (nobody was recording).
	f.quotes("ESZ6", every(time.Second, 5*time.Minute, time.Second)...)
	f.quotes("ESZ6", every(2*time.Hour+2*time.Minute, 2*time.Hour+5*time.Minute, time.Second)...)
	f.events("ESZ6", ev(schema.KindStart, "r1", at(0)), ev(schema.KindStop, "r1", at(5*time.Minute)),
		ev(schema.KindStart, "r2", at(2*time.Hour)), ev(schema.KindStop, "r2", at(2*time.Hour+5*time.Minute)))
	rep := mustRun(t, testConfig(f.root))
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Silences) != 1 || s.Silences[0].Start.UnixNano() != at(2*time.Hour) || s.Silences[0].End.UnixNano() != at(2*time.Hour+2*time.Minute) {
		t.Fatalf("silences = %+v", s.Silences)
	}
}

func TestRun_Filters(t *testing.T) {
	f := newFixture(t)
	next := 24 * time.Hour
	for _, sym := range []string{"ESZ6", "NQZ6", "ES Z6/x"} {
		f.quotes(sym, every(0, time.Minute, time.Second)...)
		f.quotes(sym, every(next, next+time.Minute, time.Second)...)
		f.quotes(sym, every(next+5*time.Minute, next+6*time.Minute, time.Second)...)
	}
	cfg := testConfig(f.root)
	cfg.Symbols = []string{"ES Z6/x", "GCZ6"}
	rep := mustRun(t, cfg)
	if len(rep.Symbols) != 2 || rep.Symbols[0].Symbol != "ES Z6/x" || rep.Symbols[1].Symbol != "GCZ6" || len(rep.Symbols[1].Days) != 0 {
		t.Fatalf("symbols = %+v", rep.Symbols)
	}
	if len(rep.Symbols[0].Days) != 2 || rep.Symbols[0].Days[1].Tables["quotes"].Rows != 122 {
		t.Fatalf("days = %+v", rep.Symbols[0].Days)
	}
	// --from/--to: only the first minute of the second date.
	cfg = testConfig(f.root)
	cfg.Symbols = []string{"ESZ6"}
	cfg.From, cfg.To = base.Add(next), base.Add(next+90*time.Second)
	rep = mustRun(t, cfg)
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Days) != 1 || s.Days[0].Date != "2026-11-26" || s.Days[0].Tables["quotes"].Rows != 61 || len(s.Silences) != 0 {
		t.Fatalf("windowed = %+v", s)
	}
	if rep.DataRows != 61 {
		t.Errorf("data rows = %d", rep.DataRows)
	}
}

func TestRun_CrashedRunLastsUntilItsOwnWriterRestarts(t *testing.T) {
	f := newFixture(t)
	wa, wb := "wa-20261125T100000000Z", "wb-20261125T100100000Z"
	// wa crashes after 5m and never restarts; wb runs 1m–3m. wa's data
	// has a hole 4m–4m40s that nobody marked: with wb's start ending wa's
	// run it would go unnoticed.
	var recv []int64
	for d := time.Duration(0); d <= 5*time.Minute; d += time.Second {
		if d <= 4*time.Minute || d >= 4*time.Minute+40*time.Second {
			recv = append(recv, at(d))
		}
	}
	f.quotes("ESZ6", recv...)
	f.quotes("ESZ6", every(time.Minute, 3*time.Minute, time.Second)...)
	f.events("ESZ6", ev(schema.KindStart, wa, at(0)))
	f.events("ESZ6", ev(schema.KindStart, wb, at(time.Minute)), ev(schema.KindStop, wb, at(3*time.Minute)))
	rep := mustRun(t, testConfig(f.root))
	s := findSymbol(t, rep, "ESZ6")
	if len(s.Silences) != 1 || s.Silences[0].Start.UnixNano() != at(4*time.Minute) || s.Silences[0].DurationNS != int64(40*time.Second) {
		t.Fatalf("silences = %+v", s.Silences)
	}
}

func TestWriterOf(t *testing.T) {
	for run, want := range map[string]string{
		"wE-20261125T233157005Z":        "wE",
		"host-a-20261125T233157Z":       "host-a",
		"w1-20261125T233157.000000001Z": "w1",
		"r1":                            "",
		"-20261125T233157005Z":          "",
		"w-2026112T233157005Z":          "",
	} {
		if got := writerOf(run); got != want {
			t.Errorf("writerOf(%q) = %q, want %q", run, got, want)
		}
	}
}

func TestRun_RunWithoutAnyData(t *testing.T) {
	f := newFixture(t)
	f.quotes("ESZ6", every(0, 10*time.Minute, time.Second)...)
	// GCZ6 was subscribed for the whole run and never got an update.
	for _, sym := range []string{"ESZ6", "GCZ6"} {
		f.events(sym, ev(schema.KindStart, "r1", at(0)), ev(schema.KindStop, "r1", at(10*time.Minute)))
	}
	rep := mustRun(t, testConfig(f.root))
	gc := findSymbol(t, rep, "GCZ6")
	if len(gc.Silences) != 1 || gc.Silences[0].DurationNS != int64(10*time.Minute) {
		t.Fatalf("GCZ6 silences = %+v", gc.Silences)
	}
	d := findDay(t, gc, "2026-11-25")
	if d.DataRows != 0 || d.First != nil || d.Tables["events"].Rows != 2 || d.Silences.Count != 1 || d.OK {
		t.Errorf("GCZ6 day = %+v", d)
	}
	if rep.OK || rep.Silences != 1 {
		t.Errorf("ok %v silences %d", rep.OK, rep.Silences)
	}
}
