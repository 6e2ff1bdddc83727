package verify

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// finishSymbol turns the scan state and the events of one symbol into
// its report: merged marked gaps, live spans, unmarked silences, and a
// summary per date.
func (a *analysis) finishSymbol(st *symbolState) {
	ev := a.events[st.sym]
	if ev == nil {
		ev = &symbolEvents{stops: map[string]int64{}, lastEvent: map[string]int64{}, heals: map[span]int64{}}
	}
	sr := SymbolReport{Symbol: st.sym, BadGapRows: ev.bad, Gaps: []Gap{}, Silences: []Silence{}, Days: []DayReport{}, Coverage: []Span{}}

	cov := mergeSpans(st.cov, a.slack)
	for _, c := range cov {
		sr.Coverage = append(sr.Coverage, Span{Start: ts(c.Start), End: ts(c.End)})
	}

	gaps, gapSpans := a.mergeGaps(ev)
	sr.Gaps = gaps

	live := a.liveSpans(ev, cov)
	runs := map[string]bool{}
	for _, s := range ev.starts {
		runs[s.Run] = true
	}
	sr.Runs = len(runs)

	var silences []span
	if len(live) > 0 {
		holes := complementWithin(cov, live[0].Start, live[len(live)-1].End)
		for _, p := range subtractSpans(intersectSpans(holes, live), gapSpans) {
			if p.len() > a.slack {
				silences = append(silences, p)
				sr.Silences = append(sr.Silences, Silence{Start: ts(p.Start), End: ts(p.End), DurationNS: p.len()})
			}
		}
	}

	sr.Days = a.dayReports(st, ev, gaps, gapSpans, silences)
	for _, g := range sr.Gaps {
		if g.OverMax {
			a.rep.GapsOverMax++
		}
	}
	a.rep.Silences += len(sr.Silences)
	if len(sr.Days) == 0 && len(sr.Gaps) == 0 && len(sr.Silences) == 0 {
		return // only rows outside the window
	}
	a.rep.Symbols = append(a.rep.Symbols, sr)
}

// mergeGaps merges the gap rows of a symbol that overlap or touch into
// marked gaps, keeps those inside the window and returns them with their
// spans. A gap row that concerns only the ticks table and has a matching
// heal row is healed: it is no longer a gap.
func (a *analysis) mergeGaps(ev *symbolEvents) ([]Gap, []span) {
	raw := slices.Clone(ev.gaps)
	slices.SortFunc(raw, func(x, y rawGap) int {
		if x.Start != y.Start {
			if x.Start < y.Start {
				return -1
			}
			return 1
		}
		if x.End < y.End {
			return -1
		}
		if x.End > y.End {
			return 1
		}
		return 0
	})
	out := []Gap{}
	var spans []span
	var cur *Gap
	var curSpan span
	healedSeen := map[span]bool{}
	flush := func() {
		if cur == nil {
			return
		}
		if curSpan.End >= a.win.lo && curSpan.Start < a.win.hi {
			cur.Start, cur.End, cur.DurationNS = ts(curSpan.Start), ts(curSpan.End), curSpan.len()
			cur.OverMax = curSpan.len() > a.rep.MaxGapNS
			slices.Sort(cur.Tables)
			slices.Sort(cur.Runs)
			out = append(out, *cur)
			spans = append(spans, curSpan)
		}
		cur = nil
	}
	for _, g := range raw {
		ticks, healed := ev.heals[g.span]
		if healed && len(g.Tables) == 1 && g.Tables[0] == schema.TableTicks.String() {
			continue
		}
		if cur == nil || g.Start > curSpan.End {
			flush()
			cur = &Gap{Reasons: map[string]int{}, Tables: []string{}, Runs: []string{}}
			curSpan = g.span
		}
		curSpan.End = max(curSpan.End, g.End)
		cur.Rows++
		cur.Reasons[g.Reason]++
		for _, t := range g.Tables {
			if !slices.Contains(cur.Tables, t) {
				cur.Tables = append(cur.Tables, t)
			}
		}
		if !slices.Contains(cur.Runs, g.Run) {
			cur.Runs = append(cur.Runs, g.Run)
		}
		if healed && !healedSeen[g.span] {
			healedSeen[g.span] = true
			cur.Healed++
			cur.HealedTicks += ticks
		}
	}
	flush()
	return out, spans
}

// liveSpans returns when a recorder was capturing the symbol, clipped to
// the window. A run lasts from its start row to its stop row; a run
// without a stop row (it crashed) lasts until the next start row of the
// same writer (of any run when a run id does not name its writer), or,
// when there is none, until its last row or the last data row, whichever
// is later. Without any start row the symbol counts as live
// from its first to its last data row.
func (a *analysis) liveSpans(ev *symbolEvents, cov []span) []span {
	var live []span
	lastData := int64(math.MinInt64)
	if len(cov) > 0 {
		lastData = cov[len(cov)-1].End
	}
	starts := slices.Clone(ev.starts)
	slices.SortFunc(starts, func(x, y runStart) int {
		switch {
		case x.TS < y.TS:
			return -1
		case x.TS > y.TS:
			return 1
		}
		return 0
	})
	for i, s := range starts {
		end, ok := ev.stops[s.Run]
		if !ok || end < s.TS {
			end = math.MinInt64
			w := writerOf(s.Run)
			for _, n := range starts[i+1:] {
				if nw := writerOf(n.Run); n.TS > s.TS && (w == "" || nw == "" || nw == w) {
					end = n.TS
					break
				}
			}
			if end == math.MinInt64 {
				end = max(ev.lastEvent[s.Run], lastData, s.TS)
			}
		}
		live = append(live, span{s.TS, end})
	}
	if len(starts) == 0 && len(cov) > 0 {
		live = append(live, span{cov[0].Start, lastData})
	}
	live = mergeSpans(live, 0)
	return intersectSpans(live, []span{{a.win.lo, a.win.hi}})
}

// dayReports summarises a symbol per UTC date: every date with rows, and
// every date between the first and the last of them that a gap or a
// silence touches (a weekend inside a long gap).
func (a *analysis) dayReports(st *symbolState, ev *symbolEvents, gaps []Gap, gapSpans, silences []span) []DayReport {
	dates := map[string]bool{}
	for d := range st.days {
		dates[d] = true
	}
	for k := range a.eventDays {
		if k[0] == st.sym && a.win.keepsDay(k[1]) {
			dates[k[1]] = true
		}
	}
	if len(dates) == 0 {
		return []DayReport{}
	}
	sorted := slices.Sorted(maps.Keys(dates))
	first, last := dayStart(sorted[0]), dayStart(sorted[len(sorted)-1])
	addTouched := func(s span) {
		for d := max(floorDay(s.Start), first); d <= min(floorDay(s.End), last); d += day {
			dates[time.Unix(0, d).UTC().Format(time.DateOnly)] = true
		}
	}
	for _, s := range gapSpans {
		addTouched(s)
	}
	for _, s := range silences {
		addTouched(s)
	}
	var heals []span
	for h := range ev.heals {
		if h.End >= a.win.lo && h.Start < a.win.hi {
			heals = append(heals, h)
		}
	}

	var out []DayReport
	for _, date := range slices.Sorted(maps.Keys(dates)) {
		d0 := dayStart(date)
		d1 := d0 + day
		dr := DayReport{Date: date, Tables: map[string]TableReport{}, Gaps: DayGaps{Reasons: map[string]int{}}}
		if stats := st.days[date]; stats != nil {
			for t, s := range stats {
				if s.Rows == 0 {
					continue
				}
				dr.Tables[schema.Table(t).String()] = TableReport{Rows: s.Rows, First: ts(s.First), Last: ts(s.Last)}
				if schema.Table(t) == schema.TableEvents {
					continue
				}
				dr.DataRows += s.Rows
				if dr.First == nil || s.First < dr.First.UnixNano() {
					f := ts(s.First)
					dr.First = &f
				}
				if dr.Last == nil || s.Last > dr.Last.UnixNano() {
					l := ts(s.Last)
					dr.Last = &l
				}
			}
		} else if es := a.eventDays[[2]string{st.sym, date}]; es != nil && es.Rows > 0 {
			dr.Tables[schema.TableEvents.String()] = TableReport{Rows: es.Rows, First: ts(es.First), Last: ts(es.Last)}
		}
		for i, s := range gapSpans {
			ov, touches := overlap(s, d0, d1)
			if !touches {
				continue
			}
			g := gaps[i]
			dr.Gaps.Count++
			dr.Gaps.TotalNS += ov
			dr.Gaps.LongestNS = max(dr.Gaps.LongestNS, g.DurationNS)
			if g.OverMax {
				dr.Gaps.OverMax++
			}
			for r, n := range g.Reasons {
				dr.Gaps.Reasons[r] += n
			}
		}
		for _, h := range heals {
			if _, touches := overlap(h, d0, d1); touches {
				dr.Healed.Count++
				dr.Healed.Ticks += ev.heals[h]
			}
		}
		for _, s := range silences {
			ov, touches := overlap(s, d0, d1)
			if !touches {
				continue
			}
			dr.Silences.Count++
			dr.Silences.TotalNS += ov
			dr.Silences.LongestNS = max(dr.Silences.LongestNS, s.len())
		}
		dr.OK = dr.Gaps.OverMax == 0 && dr.Silences.Count == 0
		out = append(out, dr)
	}
	return out
}

// overlap returns how much of s lies in [d0, d1), and whether s touches
// that day at all (a zero-length gap touches the day it is in).
func overlap(s span, d0, d1 int64) (int64, bool) {
	lo, hi := max(s.Start, d0), min(s.End, d1)
	if hi > lo {
		return hi - lo, true
	}
	return 0, s.Start >= d0 && s.Start < d1
}

// floorDay is 00:00 UTC of the day holding t.
func floorDay(t int64) int64 {
	d := t - t%day
	if t%day < 0 {
		d -= day
	}
	return d
}

// writerOf returns the writer id of a run id made by the recorder
// or storage ("<writer>-<YYYYMMDD>T<HHMMSS…>[.<fraction>]Z"), or "" when
// runID has another shape.
func writerOf(runID string) string {
	i := strings.LastIndexByte(runID, '-')
	if i <= 0 {
		return ""
	}
	date, clock, ok := strings.Cut(runID[i+1:], "T")
	if !ok || len(date) != 8 || len(clock) < 7 || clock[len(clock)-1] != 'Z' || !digits(date) {
		return ""
	}
	whole, frac, hasFrac := strings.Cut(clock[:len(clock)-1], ".")
	if !digits(whole) || (hasFrac && !digits(frac)) {
		return ""
	}
	return runID[:i]
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }
