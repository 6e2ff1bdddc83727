package verify

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/verify/verifytest"
)

// fixture wraps verifytest.Dataset with short names for these tests.
type fixture struct {
	*verifytest.Dataset
	t    *testing.T
	root string
}

func newFixture(t *testing.T) *fixture {
	d := verifytest.New(t)
	return &fixture{Dataset: d, t: t, root: d.Root}
}

// base is 2026-11-25 10:00:00 UTC.
var base = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// at returns base + d in Unix nanoseconds.
func at(d time.Duration) int64 { return base.Add(d).UnixNano() }

func (f *fixture) path(t schema.Table, sym string, recv int64) string { return f.Path(t, sym, recv) }
func (f *fixture) quotes(sym string, recv ...int64) string            { return f.Quotes(sym, recv...) }
func (f *fixture) dom(sym string, recv ...int64) string               { return f.DOM(sym, recv...) }
func (f *fixture) ticks(sym string, recv ...int64) string             { return f.Ticks(sym, recv...) }
func (f *fixture) events(sym string, rows ...schema.Event) string     { return f.Events(sym, rows...) }

func writeFile[T any](t *testing.T, path string, rows []T, rowGroup int) {
	verifytest.WriteFile(t, path, rows, rowGroup)
}

func every(a, b, step time.Duration) []int64 { return verifytest.Every(base, a, b, step) }

var (
	ev     = verifytest.Ev
	gapEv  = verifytest.Gap
	healEv = verifytest.Heal
)

func testConfig(root string) Config {
	return Config{Root: root, MaxGap: time.Minute, Silence: 30 * time.Second, Logger: zerolog.Nop()}
}

func mustRun(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func findSymbol(t *testing.T, rep *Report, sym string) SymbolReport {
	t.Helper()
	for _, s := range rep.Symbols {
		if s.Symbol == sym {
			return s
		}
	}
	t.Fatalf("symbol %s not in report (%d symbols)", sym, len(rep.Symbols))
	return SymbolReport{}
}

func findDay(t *testing.T, s SymbolReport, date string) DayReport {
	t.Helper()
	for _, d := range s.Days {
		if d.Date == date {
			return d
		}
	}
	t.Fatalf("date %s not in report of %s", date, s.Symbol)
	return DayReport{}
}
