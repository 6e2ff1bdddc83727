package verify

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/mdcap/mdcap/schema"
)

const day = int64(24 * time.Hour)

// rawGap is one gap row.
type rawGap struct {
	span
	Reason string
	Run    string
	Tables []string
}

// runStart is one start row.
type runStart struct {
	TS  int64
	Run string
}

// symbolEvents is what the events table says about one symbol, over
// every date.
type symbolEvents struct {
	starts    []runStart
	stops     map[string]int64 // run → first stop row
	lastEvent map[string]int64 // run → latest row of any kind
	gaps      []rawGap
	heals     map[span]int64 // gap → ticks recovered
	bad       int
}

// symbolState is the per-symbol state of the data scan: a few counters
// per date and the coverage spans, never the rows themselves.
type symbolState struct {
	sym  string
	days map[string]*[schema.NumTables]tableStats
	cov  []span
}

type analysis struct {
	cfg       Config
	win       window
	slack     int64
	rep       *Report
	events    map[string]*symbolEvents
	eventDays map[[2]string]*tableStats
	buf       []int64
	clipBuf   []int64
	progress  Progress
	jp        fastjson.Parser
}

func newAnalysis(cfg Config) *analysis {
	rep := &Report{
		Version:   ReportVersion,
		Root:      cfg.Root,
		MaxGapNS:  int64(cfg.MaxGap),
		SilenceNS: int64(cfg.Silence),
		Skipped:   []SkippedFile{},
		Symbols:   []SymbolReport{},
	}
	if !cfg.From.IsZero() {
		t := cfg.From.UTC()
		rep.From = &t
	}
	if !cfg.To.IsZero() {
		t := cfg.To.UTC()
		rep.To = &t
	}
	return &analysis{
		cfg:       cfg,
		win:       newWindow(cfg.From, cfg.To),
		slack:     int64(cfg.Silence),
		rep:       rep,
		events:    map[string]*symbolEvents{},
		eventDays: map[[2]string]*tableStats{},
		buf:       make([]int64, scanBufLen),
	}
}

func (a *analysis) skip(path string, err error) {
	a.cfg.Logger.Warn().Str("path", path).Err(err).Msg("skipping bad input")
	a.rep.Skipped = append(a.rep.Skipped, SkippedFile{Path: path, Error: err.Error()})
}

// fileDone handles the outcome of reading one file.
func (a *analysis) fileDone(f fileRef, err error) error {
	a.progress.Files++
	a.progress.Bytes += f.Size
	a.rep.Files++
	a.rep.Bytes += f.Size
	if a.cfg.Progress != nil {
		a.cfg.Progress(a.progress)
	}
	if err == nil {
		return nil
	}
	if a.cfg.SkipBad {
		a.skip(f.Path, err)
		return nil
	}
	return &BadInputError{Path: f.Path, Err: err}
}

func (a *analysis) run(ctx context.Context) error {
	keepSym := func(string) bool { return true }
	if len(a.cfg.Symbols) > 0 {
		keepSym = func(s string) bool { return slices.Contains(a.cfg.Symbols, s) }
	}
	// Every date is listed: a gap row may be written on a later date than
	// the data it concerns (a crash recovered days later).
	l, err := listDataset(a.cfg.Root, func(string) bool { return true }, keepSym, a.cfg.SkipBad, a.skip)
	if err != nil {
		return err
	}
	a.progress.TotalFiles, a.progress.TotalBytes = l.Files, l.Bytes

	for _, p := range l.Parts {
		for _, f := range p.Files[schema.TableEvents] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := a.fileDone(f, a.readEventFile(p, f)); err != nil {
				return err
			}
		}
	}

	var st *symbolState
	seen := map[string]bool{}
	for _, p := range l.Parts {
		if st == nil || st.sym != p.Symbol {
			if st != nil {
				a.finishSymbol(st)
			}
			st = &symbolState{sym: p.Symbol, days: map[string]*[schema.NumTables]tableStats{}}
			seen[p.Symbol] = true
		}
		if err := a.scanPartition(ctx, st, p); err != nil {
			return err
		}
	}
	if st != nil {
		a.finishSymbol(st)
	}
	for _, s := range a.cfg.Symbols {
		if !seen[s] {
			a.cfg.Logger.Warn().Str("symbol", s).Msg("symbol not in the dataset")
			a.rep.Symbols = append(a.rep.Symbols, SymbolReport{Symbol: s, Gaps: []Gap{}, Silences: []Silence{}, Days: []DayReport{}, Coverage: []Span{}})
		}
	}
	slices.SortFunc(a.rep.Symbols, func(x, y SymbolReport) int { return strings.Compare(x.Symbol, y.Symbol) })
	a.rep.OK = a.rep.GapsOverMax == 0 && a.rep.Silences == 0
	return nil
}

func (a *analysis) readEventFile(p *partition, f fileRef) error {
	ev := a.events[p.Symbol]
	if ev == nil {
		ev = &symbolEvents{stops: map[string]int64{}, lastEvent: map[string]int64{}, heals: map[span]int64{}}
		a.events[p.Symbol] = ev
	}
	key := [2]string{p.Symbol, p.Date}
	ts := a.eventDays[key]
	if ts == nil {
		ts = &tableStats{}
		a.eventDays[key] = ts
	}
	return readEvents(f.Path, func(r *eventRow) {
		if dayStart(p.Date) <= r.RecvTS && r.RecvTS < dayStart(p.Date)+day && a.win.lo <= r.RecvTS && r.RecvTS < a.win.hi {
			ts.addRange(1, r.RecvTS, r.RecvTS)
		}
		if t, ok := ev.lastEvent[r.RunID]; !ok || r.RecvTS > t {
			ev.lastEvent[r.RunID] = r.RecvTS
		}
		switch r.Kind {
		case schema.KindStart:
			ev.starts = append(ev.starts, runStart{TS: r.RecvTS, Run: r.RunID})
		case schema.KindStop:
			if t, ok := ev.stops[r.RunID]; !ok || r.RecvTS < t {
				ev.stops[r.RunID] = r.RecvTS
			}
		case schema.KindGap:
			if r.GapStart == nil || r.GapEnd == nil || *r.GapEnd < *r.GapStart {
				ev.bad++
				return
			}
			d := parseDetail(&a.jp, r.Detail)
			ev.gaps = append(ev.gaps, rawGap{span: span{*r.GapStart, *r.GapEnd}, Reason: r.Reason, Run: r.RunID, Tables: d.Tables})
		case schema.KindHeal:
			if r.GapStart == nil || r.GapEnd == nil {
				return
			}
			d := parseDetail(&a.jp, r.Detail)
			ev.heals[span{*r.GapStart, *r.GapEnd}] += d.Ticks
		}
	})
}

// dayStart is the Unix nanosecond of 00:00 UTC on date (YYYY-MM-DD).
func dayStart(date string) int64 {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return math.MinInt64
	}
	return d.UnixNano()
}

// scanPartition reads the recv_ts column of every data file of p.
func (a *analysis) scanPartition(ctx context.Context, st *symbolState, p *partition) error {
	d0 := dayStart(p.Date)
	inWindow := a.win.keepsDay(p.Date)
	clipLo, clipHi := max(d0, a.win.lo), min(d0+day, a.win.hi)
	// Rows are clipped to their date too: a file never spans two dates,
	// and a row outside its folder's date is not counted for it.
	cov := newCoverage(a.slack)
	var stats [schema.NumTables]tableStats
	for _, t := range []schema.Table{schema.TableQuotes, schema.TableDOM, schema.TableTicks} {
		ts := &stats[t]
		emit := func(vals []int64) {
			lo, hi := minMax(vals)
			if lo < clipLo || hi >= clipHi {
				a.clipBuf = clip(append(a.clipBuf[:0], vals...), clipLo, clipHi)
				vals = a.clipBuf
				if len(vals) == 0 {
					return
				}
				lo, hi = minMax(vals)
			}
			ts.addRange(int64(len(vals)), lo, hi)
			cov.add(vals)
		}
		for _, f := range p.Files[t] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !inWindow {
				a.progress.Files++
				a.progress.Bytes += f.Size
				continue
			}
			if err := a.fileDone(f, scanRecvTS(f.Path, a.buf, emit)); err != nil {
				return err
			}
		}
	}
	if !inWindow {
		return nil
	}
	if es := a.eventDays[[2]string{p.Symbol, p.Date}]; es != nil {
		stats[schema.TableEvents] = *es
	}
	st.days[p.Date] = &stats
	for t := range stats[:schema.TableEvents] {
		a.rep.DataRows += stats[t].Rows
	}
	st.cov = append(st.cov, cov.merge()...)
	return nil
}
