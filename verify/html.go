package verify

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Timeline geometry, in CSS pixels.
const (
	htmlTimelineWidth = 960
	htmlRowHeight     = 18
	htmlMinMarkWidth  = 2.0 // a gap or silence is never narrower than this
)

// reasonColor gives each gap reason a fixed colour; unknown reasons get
// reasonOther.
func reasonColor(reason string) string {
	switch reason {
	case "eof":
		return "#1f77b4"
	case "read_error":
		return "#9467bd"
	case "stale":
		return "#ff7f0e"
	case "server_close":
		return "#8c564b"
	case "request_timeout":
		return "#e377c2"
	case "buffer_full":
		return "#bcbd22"
	case "crash_recovery":
		return "#17becf"
	case "shutdown_event":
		return "#6b6ecf"
	case "write_error":
		return "#e6550d"
	case "user_stop":
		return "#7f7f7f"
	}
	return reasonOther
}

const (
	reasonOther   = "#555555"
	colorCoverage = "#52b36b"
	colorSilence  = "#d62728"
)

// gapColor is the colour of the most frequent reason of a gap.
func gapColor(g Gap) string {
	best, n := "", -1
	for _, r := range slices.Sorted(maps.Keys(g.Reasons)) {
		if g.Reasons[r] > n {
			best, n = r, g.Reasons[r]
		}
	}
	return reasonColor(best)
}

// WriteHTML writes a self-contained page (inline CSS and SVG, no script,
// nothing fetched) with one timeline row per symbol over every date of the
// report: data coverage in green, marked gaps coloured by reason, unmarked
// silences in red; hovering a mark shows its details. A table per symbol
// and date follows.
func WriteHTML(w io.Writer, rep *Report) error {
	bw := bufio.NewWriter(w)
	lo, hi := htmlRange(rep)
	scale := float64(htmlTimelineWidth) / float64(hi-lo)
	x := func(t time.Time) float64 {
		return min(max(float64(t.UnixNano()-lo)*scale, 0), htmlTimelineWidth)
	}
	e := html.EscapeString

	verdict, vclass := "OK", "ok"
	if !rep.OK {
		verdict, vclass = "FAIL", "fail"
	}
	fmt.Fprintf(bw, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>mdcap verify-gaps: %s</title>
<style>
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}
.verdict{display:inline-block;padding:1px 8px;border-radius:3px;color:#fff;font-weight:600}
.verdict.ok{background:#2e8b57}.verdict.fail{background:#c0392b}
.meta{color:#555;margin:4px 0 10px}
.legend span{display:inline-block;margin-right:12px;white-space:nowrap}
.legend i{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin-right:4px;border:1px solid #0002}
table{border-collapse:collapse}
table.timeline th{text-align:left;font-weight:600;padding:1px 8px 1px 0;white-space:nowrap;font-family:ui-monospace,Menlo,monospace}
table.timeline td{padding:1px 0}
table.timeline td.sum{padding-left:8px;color:#555;white-space:nowrap;font-size:12px}
table.timeline tr.bad th{color:#c0392b}
svg{display:block}
table.days{margin-top:8px;font-size:12px}
table.days th,table.days td{border-bottom:1px solid #eee;padding:2px 6px;text-align:right;white-space:nowrap}
table.days th:first-child,table.days td:first-child,table.days td:nth-child(2){text-align:left}
table.days tr.bad td{background:#fdecea}
details{margin-top:14px}
</style></head><body>
<h1>mdcap verify-gaps <span class="verdict %s">%s</span></h1>
<div class="meta">%s · %d symbols · %d files · %d data rows · %d marked gaps over --max-gap %s · %d unmarked silences over --silence %s · %s → %s UTC</div>
`, e(rep.Root), vclass, verdict, e(rep.Root), len(rep.Symbols), rep.Files, rep.DataRows,
		rep.GapsOverMax, time.Duration(rep.MaxGapNS), rep.Silences, time.Duration(rep.SilenceNS),
		ts(lo).Format("2006-01-02 15:04"), ts(hi).Format("2006-01-02 15:04"))

	// Legend: coverage, silence, and the reasons present.
	fmt.Fprintf(bw, `<div class="legend"><span><i style="background:%s"></i>data</span><span><i style="background:%s"></i>unmarked silence</span><span><i style="background:#e9e9e9"></i>no data (not recording, or within --silence)</span>`, colorCoverage, colorSilence)
	present := map[string]bool{}
	for _, s := range rep.Symbols {
		for _, g := range s.Gaps {
			for r := range g.Reasons {
				present[r] = true
			}
		}
	}
	for _, r := range slices.Sorted(maps.Keys(present)) {
		c := reasonColor(r)
		name := r
		if name == "" {
			name = "(no reason)"
		}
		fmt.Fprintf(bw, `<span><i style="background:%s"></i>gap: %s</span>`, c, e(name))
	}
	bw.WriteString("<span>black outline: gap over --max-gap</span></div>\n")

	// Axis and one row per symbol.
	bw.WriteString(`<table class="timeline"><thead><tr><th></th><td>`)
	writeAxis(bw, lo, hi, scale)
	bw.WriteString("</td><td></td></tr></thead><tbody>\n")
	for _, s := range rep.Symbols {
		bad := len(s.Silences) > 0
		over := 0
		for _, g := range s.Gaps {
			if g.OverMax {
				bad = true
				over++
			}
		}
		class := "symbol-row"
		if bad {
			class += " bad"
		}
		fmt.Fprintf(bw, `<tr class="%s" data-symbol="%s"><th>%s</th><td>`, class, e(s.Symbol), e(s.Symbol))
		fmt.Fprintf(bw, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, htmlTimelineWidth, htmlRowHeight, htmlTimelineWidth, htmlRowHeight, e(s.Symbol))
		fmt.Fprintf(bw, `<rect x="0" y="0" width="%d" height="%d" fill="#e9e9e9"/>`, htmlTimelineWidth, htmlRowHeight)
		// Coverage, merged below one pixel.
		pix := int64(1 / scale)
		var cur *Span
		flush := func() {
			if cur == nil {
				return
			}
			x0, x1 := x(cur.Start), x(cur.End)
			fmt.Fprintf(bw, `<rect class="data" x="%.2f" y="3" width="%.2f" height="%d" fill="%s"/>`, x0, max(x1-x0, 0.5), htmlRowHeight-6, colorCoverage)
		}
		for i := range s.Coverage {
			c := s.Coverage[i]
			if cur != nil && c.Start.UnixNano()-cur.End.UnixNano() < pix {
				cur.End = c.End
				continue
			}
			flush()
			cur = &c
		}
		flush()
		writeDaySeparators(bw, lo, hi, scale)
		for _, g := range s.Gaps {
			x0, x1 := x(g.Start), x(g.End)
			stroke, note := "", ""
			if g.OverMax {
				stroke, note = ` stroke="#000" stroke-width="1"`, "&#10;LONGER THAN --max-gap"
			}
			wd := max(x1-x0, htmlMinMarkWidth)
			fmt.Fprintf(bw, `<rect class="gap" x="%.2f" y="0" width="%.2f" height="%d" fill="%s"%s><title>marked gap %s → %s (%s)&#10;reasons: %s&#10;tables: %s&#10;runs: %s&#10;rows: %d, healed: %d (%d ticks)%s</title></rect>`,
				min(x0, htmlTimelineWidth-wd), wd, htmlRowHeight, gapColor(g), stroke,
				stamp(g.Start), stamp(g.End), time.Duration(g.DurationNS), e(reasons(g.Reasons)),
				e(strings.Join(g.Tables, ",")), e(strings.Join(g.Runs, ",")), g.Rows, g.Healed, g.HealedTicks, note)
		}
		for _, si := range s.Silences {
			x0, x1 := x(si.Start), x(si.End)
			wd := max(x1-x0, htmlMinMarkWidth)
			fmt.Fprintf(bw, `<rect class="silence" x="%.2f" y="0" width="%.2f" height="%d" fill="%s" fill-opacity="0.85"><title>unmarked silence %s → %s (%s): no data row and no gap row</title></rect>`,
				min(x0, htmlTimelineWidth-wd), wd, htmlRowHeight, colorSilence, stamp(si.Start), stamp(si.End), time.Duration(si.DurationNS))
		}
		bw.WriteString("</svg></td>")
		var rows int64
		for _, d := range s.Days {
			rows += d.DataRows
		}
		fmt.Fprintf(bw, `<td class="sum">%d rows · %d gaps (%d over) · %d silences</td></tr>`+"\n", rows, len(s.Gaps), over, len(s.Silences))
	}
	bw.WriteString("</tbody></table>\n")

	// Details per symbol and date.
	bw.WriteString(`<details open><summary>Per symbol and date</summary><table class="days"><thead><tr><th>symbol</th><th>date</th><th>quotes</th><th>dom</th><th>ticks</th><th>events</th><th>first</th><th>last</th><th>gaps</th><th>gap total</th><th>longest</th><th>healed</th><th>silences</th><th>longest silence</th></tr></thead><tbody>` + "\n")
	for _, s := range rep.Symbols {
		for _, d := range s.Days {
			class := ""
			if !d.OK {
				class = ` class="bad"`
			}
			fmt.Fprintf(bw, "<tr%s><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%s</td></tr>\n",
				class, e(s.Symbol), d.Date, d.Tables["quotes"].Rows, d.Tables["dom"].Rows, d.Tables["ticks"].Rows, d.Tables["events"].Rows,
				clock(d.First), clock(d.Last), d.Gaps.Count, dur(d.Gaps.TotalNS, d.Gaps.Count), dur(d.Gaps.LongestNS, d.Gaps.Count),
				d.Healed.Count, d.Silences.Count, dur(d.Silences.LongestNS, d.Silences.Count))
		}
	}
	bw.WriteString("</tbody></table></details>\n")
	if len(rep.Skipped) > 0 {
		bw.WriteString("<details open><summary>Skipped (--skip-bad)</summary><ul>")
		for _, f := range rep.Skipped {
			fmt.Fprintf(bw, "<li>%s: %s</li>", e(f.Path), e(f.Error))
		}
		bw.WriteString("</ul></details>\n")
	}
	bw.WriteString("</body></html>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	return nil
}

// htmlRange is the time range of the timeline: from the earliest to the
// latest data row, gap or silence of the report (inside --from/--to),
// rounded out to whole days when it spans two days or more, to whole
// hours or minutes when it is shorter, so that a short recording is not a
// sliver of a day.
func htmlRange(rep *Report) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	see := func(a, b time.Time) {
		lo = min(lo, a.UnixNano())
		hi = max(hi, b.UnixNano())
	}
	for _, s := range rep.Symbols {
		for _, d := range s.Days {
			if d.First != nil {
				see(*d.First, *d.Last)
			}
			for _, t := range d.Tables {
				see(t.First, t.Last)
			}
		}
		for _, g := range s.Gaps {
			see(g.Start, g.End)
		}
		for _, si := range s.Silences {
			see(si.Start, si.End)
		}
	}
	if rep.From != nil {
		lo = max(lo, rep.From.UnixNano())
	}
	if rep.To != nil {
		hi = min(hi, rep.To.UnixNano())
	}
	if lo >= hi {
		if lo == math.MaxInt64 {
			lo = floorDay(time.Now().UnixNano())
		}
		return floorDay(lo), floorDay(lo) + day
	}
	unit := int64(time.Minute)
	switch span := hi - lo; {
	case span >= 2*day:
		unit = day
	case span >= 2*int64(time.Hour):
		unit = int64(time.Hour)
	}
	return floorTo(lo, unit), floorTo(hi, unit) + unit
}

// floorTo rounds t down to a multiple of unit (since the Unix epoch, UTC).
func floorTo(t, unit int64) int64 {
	r := t % unit
	if r < 0 {
		r += unit
	}
	return t - r
}

// axisSteps are the tick intervals the axis chooses from.
func axisSteps() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
}

// writeAxis draws tick labels above the rows: at most about a dozen, at a
// round interval, with the date at every midnight.
func writeAxis(bw *bufio.Writer, lo, hi int64, scale float64) {
	fmt.Fprintf(bw, `<svg width="%d" height="18" viewBox="0 0 %d 18">`, htmlTimelineWidth, htmlTimelineWidth)
	steps := axisSteps()
	step := int64(steps[len(steps)-1])
	for _, s := range steps {
		if (hi-lo)/int64(s) <= 12 {
			step = int64(s)
			break
		}
	}
	layout := "15:04"
	if step < int64(time.Minute) {
		layout = "15:04:05"
	}
	for t := floorTo(lo, step); t < hi; t += step {
		if t < lo {
			continue
		}
		px := float64(t-lo) * scale
		if t%day == 0 {
			fmt.Fprintf(bw, `<line x1="%.1f" y1="4" x2="%.1f" y2="18" stroke="#333"/><text x="%.1f" y="12" font-size="11" fill="#222">%s</text>`, px, px, px+3, ts(t).Format("Mon 01-02"))
			continue
		}
		fmt.Fprintf(bw, `<line x1="%.1f" y1="10" x2="%.1f" y2="18" stroke="#999"/><text x="%.1f" y="12" font-size="9" fill="#666">%s</text>`, px, px, px+2, ts(t).Format(layout))
	}
	bw.WriteString("</svg>")
}

// writeDaySeparators draws a thin line at every midnight inside a row.
func writeDaySeparators(bw *bufio.Writer, lo, hi int64, scale float64) {
	for t := floorDay(lo) + day; t < hi; t += day {
		px := float64(t-lo) * scale
		fmt.Fprintf(bw, `<line x1="%.1f" y1="0" x2="%.1f" y2="%d" stroke="#fff" stroke-width="1"/>`, px, px, htmlRowHeight)
	}
}
