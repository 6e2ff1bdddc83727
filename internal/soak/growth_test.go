package soak

import (
	"testing"
	"time"
)

func series(n int, f func(i int) (rss int64, fds, gor int)) []Sample {
	ss := make([]Sample, n)
	for i := range ss {
		r, fd, g := f(i)
		ss[i] = Sample{At: time.Duration(i) * time.Second, RSS: r, FDs: fd, Goroutines: g}
	}
	return ss
}

func verdicts(t *testing.T, ss []Sample) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, g := range Judge(ss, DefaultTolerances()) {
		if g.TooFewForVerdict {
			t.Fatalf("%s: too few samples", g.Metric)
		}
		out[g.Metric] = g.Leaking
	}
	return out
}

func TestJudge(t *testing.T) {
	const mib = 1 << 20
	t.Run("flat with noise", func(t *testing.T) {
		v := verdicts(t, series(300, func(i int) (int64, int, int) {
			return 40*mib + int64(i%7)*mib, 25 + i%3, 12 + i%5
		}))
		for m, leak := range v {
			if leak {
				t.Errorf("%s judged leaking", m)
			}
		}
	})
	t.Run("warm-up then level", func(t *testing.T) {
		v := verdicts(t, series(300, func(i int) (int64, int, int) {
			w := min(i, 100)
			return 20*mib + int64(w)*mib/5, 10 + w/10, 8 + w/20
		}))
		for m, leak := range v {
			if leak {
				t.Errorf("%s judged leaking after levelling off", m)
			}
		}
	})
	t.Run("steady growth", func(t *testing.T) {
		v := verdicts(t, series(300, func(i int) (int64, int, int) {
			return 20*mib + int64(i)*mib/4, 20 + i/10, 10 + i/10
		}))
		for _, m := range []string{"rss", "fds", "goroutines"} {
			if !v[m] {
				t.Errorf("%s growing without end judged ok", m)
			}
		}
	})
}

func TestCurve(t *testing.T) {
	ss := series(95, func(i int) (int64, int, int) { return int64(i), i, i })
	c := Curve(ss, 10)
	if len(c) != 10 || c[len(c)-1].At != ss[len(ss)-1].At {
		t.Fatalf("curve %v", c)
	}
	for i := 1; i < len(c); i++ {
		if c[i].FDs <= c[i-1].FDs {
			t.Errorf("curve not increasing at %d: %v", i, c)
		}
	}
}
