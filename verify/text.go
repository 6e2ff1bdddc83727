package verify

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints the report for people: one line per symbol and date,
// then every marked gap over --max-gap, every unmarked silence and every
// skipped file, then the verdict.
func WriteText(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SYMBOL\tDATE\tQUOTES\tDOM\tTICKS\tEVENTS\tFIRST\tLAST\tGAPS\tGAP TOTAL\tLONGEST\tHEALED\tSILENCES\tLONGEST SIL\tSTATUS\t")
	days, gaps := 0, 0
	var longest int64
	for _, s := range rep.Symbols {
		if len(s.Days) == 0 {
			fmt.Fprintf(tw, "%s\t-\t0\t0\t0\t0\t-\t-\t0\t-\t-\t0\t0\t-\tno rows\t\n", s.Symbol)
		}
		for _, d := range s.Days {
			days++
			status := "ok"
			if !d.OK {
				status = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\t\n",
				s.Symbol, d.Date,
				d.Tables["quotes"].Rows, d.Tables["dom"].Rows, d.Tables["ticks"].Rows, d.Tables["events"].Rows,
				clock(d.First), clock(d.Last),
				d.Gaps.Count, dur(d.Gaps.TotalNS, d.Gaps.Count), dur(d.Gaps.LongestNS, d.Gaps.Count),
				d.Healed.Count,
				d.Silences.Count, dur(d.Silences.LongestNS, d.Silences.Count), status)
		}
		gaps += len(s.Gaps)
		for _, g := range s.Gaps {
			longest = max(longest, g.DurationNS)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}

	var b strings.Builder
	if rep.GapsOverMax > 0 {
		fmt.Fprintf(&b, "\nmarked gaps longer than --max-gap %s:\n", time.Duration(rep.MaxGapNS))
		for _, s := range rep.Symbols {
			for _, g := range s.Gaps {
				if g.OverMax {
					fmt.Fprintf(&b, "  %s  %s → %s  %s  reasons %s  runs %s\n", s.Symbol, stamp(g.Start), stamp(g.End),
						time.Duration(g.DurationNS), reasons(g.Reasons), strings.Join(g.Runs, ","))
				}
			}
		}
	}
	if rep.Silences > 0 {
		fmt.Fprintf(&b, "\nunmarked silences longer than --silence %s (no data row and no gap row):\n", time.Duration(rep.SilenceNS))
		for _, s := range rep.Symbols {
			for _, si := range s.Silences {
				fmt.Fprintf(&b, "  %s  %s → %s  %s\n", s.Symbol, stamp(si.Start), stamp(si.End), time.Duration(si.DurationNS))
			}
		}
	}
	bad := 0
	for _, s := range rep.Symbols {
		bad += s.BadGapRows
	}
	if bad > 0 {
		fmt.Fprintf(&b, "\n%d gap rows without gap_start/gap_end (or ending before they start) were left out\n", bad)
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(&b, "\nskipped (--skip-bad):\n")
		for _, f := range rep.Skipped {
			fmt.Fprintf(&b, "  %s: %s\n", f.Path, f.Error)
		}
	}
	verdict := "OK"
	if !rep.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "\n%s: %d symbols, %d dates, %d files, %d data rows; %d marked gaps (longest %s), %d over --max-gap %s; %d unmarked silences over --silence %s\n",
		verdict, len(rep.Symbols), days, rep.Files, rep.DataRows, gaps, time.Duration(longest),
		rep.GapsOverMax, time.Duration(rep.MaxGapNS), rep.Silences, time.Duration(rep.SilenceNS))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// clock prints the time of day of t, or "-".
func clock(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("15:04:05.000")
}

func stamp(t time.Time) string { return t.Format("2006-01-02 15:04:05.000") }

// dur prints a duration rounded for a table, or "-" when there is none.
func dur(ns int64, n int) string {
	if n == 0 {
		return "-"
	}
	d := time.Duration(ns)
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func reasons(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name := k
		if name == "" {
			name = "(none)"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, m[k]))
	}
	return strings.Join(parts, ",")
}
