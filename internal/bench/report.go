package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// median of xs (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Summary is the median of each figure over the successful runs of a mode.
type Summary struct {
	Mode          Mode
	Runs, Failed  int
	Rate          float64 // updates/s
	ClientCPUPerM float64 // CPU seconds per million updates
	ServerCPUPerM float64
	ClientRSSMB   float64
	ServerRSSMB   float64
	Ratio         float64 // rate / the same round's discard rate
	QuoteBytes    float64 // bytes per quote row on disk
	DOMBytes      float64
	Lost          int64 // worst run
	LossGaps      int64 // worst run: gap rows other than the planned end
	Load          float64
}

// Summarise computes each mode's medians; the ratio to (a) is taken per
// round (the runs of one round are interleaved, so they share the load).
func Summarise(rs []Result) []Summary {
	discard := map[int]float64{}
	for _, r := range rs {
		if r.Mode == ModeDiscard && r.Err == nil {
			discard[r.Round] = r.Rate()
		}
	}
	var order []Mode
	by := map[Mode][]Result{}
	for _, r := range rs {
		if _, ok := by[r.Mode]; !ok {
			order = append(order, r.Mode)
		}
		by[r.Mode] = append(by[r.Mode], r)
	}
	var out []Summary
	for _, m := range order {
		s := Summary{Mode: m}
		var rate, ccpu, scpu, crss, srss, ratio, qb, db, load []float64
		for _, r := range by[m] {
			s.Runs++
			if r.Err != nil {
				s.Failed++
				continue
			}
			rate = append(rate, r.Rate())
			ccpu = append(ccpu, perM(r.ClientCPU, r.Updates))
			scpu = append(scpu, perM(r.ServerCPU, r.Updates))
			crss = append(crss, float64(r.ClientRSS)/1e6)
			srss = append(srss, float64(r.ServerRSS)/1e6)
			load = append(load, r.Load1)
			if d := discard[r.Round]; d > 0 {
				ratio = append(ratio, r.Rate()/d)
			}
			if r.Dataset != nil {
				qb = append(qb, r.bytesPer("quotes"))
				db = append(db, r.bytesPer("dom"))
				s.Lost = max(s.Lost, r.Lost)
				var g int64
				for _, n := range r.Dataset.Gaps {
					g += n
				}
				s.LossGaps = max(s.LossGaps, g)
			}
		}
		s.Rate, s.ClientCPUPerM, s.ServerCPUPerM = median(rate), median(ccpu), median(scpu)
		s.ClientRSSMB, s.ServerRSSMB, s.Ratio = median(crss), median(srss), median(ratio)
		s.QuoteBytes, s.DOMBytes, s.Load = median(qb), median(db), median(load)
		out = append(out, s)
	}
	return out
}

// modeTitle is the row label of a mode.
func modeTitle(m Mode) string {
	switch m {
	case ModeDiscard:
		return "(a) read and discard"
	case ModeDecode:
		return "(b) decode only"
	case ModeRecord:
		return "(c) mdcap record"
	}
	return string(m)
}

// WriteTable writes the summaries as a Markdown table.
func WriteTable(w io.Writer, ss []Summary) {
	fmt.Fprintln(w, "| mode | runs | M updates/s | ratio to (a) | client CPU-s / M upd | server CPU-s / M upd | client peak RSS MB | B / quote row | B / DOM row | lost updates | loss gaps | load avg |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range ss {
		runs := fmt.Sprint(s.Runs)
		if s.Failed > 0 {
			runs = fmt.Sprintf("%d (%d failed)", s.Runs, s.Failed)
		}
		na := func(v float64, f string) string {
			if v == 0 {
				return "–"
			}
			return fmt.Sprintf(f, v)
		}
		lost, gaps := "–", "–"
		if s.Mode == ModeRecord {
			lost, gaps = fmt.Sprint(s.Lost), fmt.Sprint(s.LossGaps)
		}
		fmt.Fprintf(w, "| %s | %s | %.3f | %s | %.3f | %.3f | %.0f | %s | %s | %s | %s | %.2f |\n",
			modeTitle(s.Mode), runs, s.Rate/1e6, na(s.Ratio, "%.2f"), s.ClientCPUPerM, s.ServerCPUPerM,
			s.ClientRSSMB, na(s.QuoteBytes, "%.2f"), na(s.DOMBytes, "%.1f"), lost, gaps, s.Load)
	}
}

// WriteRuns writes one line per run.
func WriteRuns(w io.Writer, rs []Result) {
	for _, r := range rs {
		line := fmt.Sprintf("round %d %-8s %s", r.Round, r.Mode, r.summary())
		if r.Dataset != nil && len(r.Dataset.Gaps) > 0 {
			var g []string
			for k, v := range r.Dataset.Gaps {
				g = append(g, fmt.Sprintf("%s=%d", k, v))
			}
			sort.Strings(g)
			line += ", gaps " + strings.Join(g, " ")
		}
		fmt.Fprintln(w, line)
	}
}
