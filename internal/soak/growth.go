package soak

import (
	"fmt"
	"sort"
)

// Tolerance is how much a metric's last third may exceed its middle third
// (median against median) before the run counts as leaking: Rel of the
// middle median plus Abs.
type Tolerance struct {
	Rel float64
	Abs float64
}

// DefaultTolerances are the growth limits of RSS (bytes), open fds and
// goroutines. Reconnects, rolls and faults make each of them move; a leak
// makes the whole last third sit higher.
func DefaultTolerances() map[string]Tolerance {
	return map[string]Tolerance{
		"rss":        {Rel: 0.20, Abs: 8 << 20},
		"fds":        {Rel: 0.10, Abs: 4},
		"goroutines": {Rel: 0.10, Abs: 5},
	}
}

// Growth is the verdict on one metric.
type Growth struct {
	Metric           string
	First, Min, Max  float64
	Last             float64
	MiddleMedian     float64
	LastMedian       float64
	Limit            float64 // the last median's ceiling
	Leaking          bool
	TooFewForVerdict bool
}

func (g Growth) String() string {
	verdict := "ok"
	switch {
	case g.TooFewForVerdict:
		verdict = "too few samples"
	case g.Leaking:
		verdict = "GROWING"
	}
	f := func(v float64) string {
		if g.Metric == "rss" {
			return fmt.Sprintf("%.1fMiB", v/(1<<20))
		}
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%-10s first %s min %s max %s last %s | median middle third %s, last third %s (limit %s): %s",
		g.Metric, f(g.First), f(g.Min), f(g.Max), f(g.Last), f(g.MiddleMedian), f(g.LastMedian), f(g.Limit), verdict)
}

// values extracts one metric from the samples.
func values(ss []Sample, metric string) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		switch metric {
		case "rss":
			out[i] = float64(s.RSS)
		case "fds":
			out[i] = float64(s.FDs)
		case "goroutines":
			out[i] = float64(s.Goroutines)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Judge compares, per metric, the median of the last third of the samples
// with the median of the middle third (the first third is warm-up: buffers,
// pools and the first files being filled).
func Judge(ss []Sample, tol map[string]Tolerance) []Growth {
	var out []Growth
	for _, m := range []string{"rss", "fds", "goroutines"} {
		v := values(ss, m)
		g := Growth{Metric: m}
		if len(v) == 0 {
			g.TooFewForVerdict = true
			out = append(out, g)
			continue
		}
		g.First, g.Last, g.Min, g.Max = v[0], v[len(v)-1], v[0], v[0]
		for _, x := range v {
			g.Min, g.Max = min(g.Min, x), max(g.Max, x)
		}
		if len(v) < 6 {
			g.TooFewForVerdict = true
			out = append(out, g)
			continue
		}
		third := len(v) / 3
		g.MiddleMedian = median(v[third : 2*third])
		g.LastMedian = median(v[2*third:])
		t := tol[m]
		g.Limit = g.MiddleMedian*(1+t.Rel) + t.Abs
		g.Leaking = g.LastMedian > g.Limit
		out = append(out, g)
	}
	return out
}

// Curve summarises the samples in n buckets of equal time: the median of
// each metric per bucket, so a report shows the shape of the run.
func Curve(ss []Sample, n int) []Sample {
	if len(ss) == 0 || n <= 0 {
		return nil
	}
	n = min(n, len(ss))
	out := make([]Sample, 0, n)
	for b := 0; b < n; b++ {
		part := ss[b*len(ss)/n : (b+1)*len(ss)/n]
		if len(part) == 0 {
			continue
		}
		out = append(out, Sample{
			At:         part[len(part)-1].At,
			RSS:        int64(median(values(part, "rss"))),
			FDs:        int(median(values(part, "fds"))),
			Goroutines: int(median(values(part, "goroutines"))),
		})
	}
	return out
}
