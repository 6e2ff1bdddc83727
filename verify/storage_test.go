package verify

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// TestRun_DatasetWrittenByStorage checks the analysis on files written by
// the recorder's own writer: two writers sharing a root, overlapping in
// time, each with a gap across midnight that the other one covers for
// data but not for gap rows.
func TestRun_DatasetWrittenByStorage(t *testing.T) {
	root := t.TempDir()
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rel := func(d time.Duration) int64 { return midnight.Add(d).UnixNano() }
	type writer struct {
		id       string
		gapStart time.Duration
		gapEnd   time.Duration
	}
	wantRows := map[string]int64{}
	for _, w := range []writer{{"w1", -2 * time.Minute, time.Minute}, {"w2", -30 * time.Second, 30 * time.Second}} {
		ds, err := storage.Open(storage.Config{Root: root, WriterID: w.id, RowGroupRows: 100, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		run := ds.RunID()
		write := func(e schema.Event) {
			if err := ds.WriteEvent("ESZ6", &e); err != nil {
				t.Fatal(err)
			}
		}
		write(ev(schema.KindStart, run, rel(-10*time.Minute)))
		for d := -10 * time.Minute; d <= 10*time.Minute; d += 500 * time.Millisecond {
			if d > w.gapStart && d < w.gapEnd {
				continue
			}
			q := schema.Quote{RecvTS: rel(d), TS: rel(d), ContractID: 7, ConnID: 1}
			if err := ds.WriteQuote("ESZ6", &q); err != nil {
				t.Fatal(err)
			}
			wantRows[time.Unix(0, rel(d)).UTC().Format(time.DateOnly)]++
		}
		write(gapEv(run, schema.ReasonEOF, rel(w.gapEnd), rel(w.gapStart), rel(w.gapEnd), `{"tables":["quotes","dom"]}`))
		write(ev(schema.KindStop, run, rel(10*time.Minute)))
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(root)
	cfg.Silence = 5 * time.Second
	cfg.MaxGap = 2 * time.Minute
	rep := mustRun(t, cfg)
	s := findSymbol(t, rep, "ESZ6")
	// The two gap rows overlap: one marked gap of 3 m, split 2 m / 1 m
	// over the two dates; no silence because each writer's data covers
	// the other's hole.
	if len(s.Gaps) != 1 || s.Gaps[0].DurationNS != int64(3*time.Minute) || s.Gaps[0].Rows != 2 || len(s.Gaps[0].Runs) != 2 || !s.Gaps[0].OverMax {
		t.Fatalf("gaps = %+v", s.Gaps)
	}
	if len(s.Silences) != 0 || s.Runs != 2 {
		t.Fatalf("silences %+v runs %d", s.Silences, s.Runs)
	}
	d1, d2 := findDay(t, s, "2026-11-25"), findDay(t, s, "2026-11-26")
	if d1.Gaps.TotalNS != int64(2*time.Minute) || d2.Gaps.TotalNS != int64(time.Minute) {
		t.Errorf("gap totals %d / %d", d1.Gaps.TotalNS, d2.Gaps.TotalNS)
	}
	if d1.Tables["quotes"].Rows != wantRows["2026-11-25"] || d2.Tables["quotes"].Rows != wantRows["2026-11-26"] {
		t.Errorf("rows %d / %d, want %v", d1.Tables["quotes"].Rows, d2.Tables["quotes"].Rows, wantRows)
	}
	if d1.Tables["events"].Rows != 2 || d2.Tables["events"].Rows != 4 {
		t.Errorf("events rows %d / %d", d1.Tables["events"].Rows, d2.Tables["events"].Rows)
	}
	if rep.OK || rep.GapsOverMax != 1 {
		t.Errorf("ok %v over %d", rep.OK, rep.GapsOverMax)
	}
}
