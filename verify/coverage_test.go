package verify

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// holesBruteForce sorts all values and returns the holes longer than
// slack between consecutive ones.
func holesBruteForce(vals []int64, slack int64) []span {
	s := slices.Clone(vals)
	slices.Sort(s)
	var out []span
	for i := 1; i < len(s); i++ {
		if s[i]-s[i-1] > slack {
			out = append(out, span{s[i-1], s[i]})
		}
	}
	return out
}

// TestCoverage_MatchesSortedHoles feeds random timestamps, in random
// order and random batches (as pages of several overlapping files come),
// and checks that the holes between coverage spans are exactly the holes
// longer than slack of the sorted values.
func TestCoverage_MatchesSortedHoles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 300; iter++ {
		n := 1 + rng.IntN(3000)
		slack := int64(1 + rng.IntN(50))
		vals := make([]int64, n)
		for i := range vals {
			vals[i] = rng.Int64N(int64(n) * 10)
		}
		// Several "files", each sorted or not.
		c := newCoverage(slack)
		c.compactAt = 16 // exercise compaction
		for rest := vals; len(rest) > 0; {
			k := 1 + rng.IntN(len(rest))
			batch := slices.Clone(rest[:k])
			if rng.IntN(2) == 0 {
				slices.Sort(batch)
			}
			c.add(batch)
			rest = rest[k:]
		}
		cov := c.merge()
		var got []span
		for i := 1; i < len(cov); i++ {
			got = append(got, span{cov[i-1].End, cov[i].Start})
		}
		want := holesBruteForce(vals, slack)
		if !slices.Equal(got, want) {
			t.Fatalf("iter %d (n %d slack %d): holes %v, want %v", iter, n, slack, got, want)
		}
		lo, hi := minMax(vals)
		if cov[0].Start != lo || cov[len(cov)-1].End != hi {
			t.Fatalf("iter %d: coverage %v…%v, values %d…%d", iter, cov[0].Start, cov[len(cov)-1].End, lo, hi)
		}
	}
}

func TestSpanOps(t *testing.T) {
	a := []span{{0, 10}, {20, 30}, {40, 50}}
	b := []span{{5, 25}, {45, 60}}
	if got, want := intersectSpans(a, b), []span{{5, 10}, {20, 25}, {45, 50}}; !slices.Equal(got, want) {
		t.Errorf("intersect = %v, want %v", got, want)
	}
	if got, want := subtractSpans(a, b), []span{{0, 5}, {25, 30}, {40, 45}}; !slices.Equal(got, want) {
		t.Errorf("subtract = %v, want %v", got, want)
	}
	if got, want := complementWithin(a, -5, 55), []span{{-5, 0}, {10, 20}, {30, 40}, {50, 55}}; !slices.Equal(got, want) {
		t.Errorf("complement = %v, want %v", got, want)
	}
	if got, want := complementWithin(a, 12, 18), []span{{12, 18}}; !slices.Equal(got, want) {
		t.Errorf("complement inside a hole = %v, want %v", got, want)
	}
	if got := complementWithin(a, 22, 28); len(got) != 0 {
		t.Errorf("complement inside a span = %v", got)
	}
	if got, want := mergeSpans([]span{{20, 25}, {0, 5}, {5, 7}, {9, 12}, {24, 30}}, 1), []span{{0, 7}, {9, 12}, {20, 30}}; !slices.Equal(got, want) {
		t.Errorf("merge slack 1 = %v, want %v", got, want)
	}
	if got, want := mergeSpans([]span{{20, 25}, {0, 5}, {5, 7}, {9, 12}, {24, 30}}, 2), []span{{0, 12}, {20, 30}}; !slices.Equal(got, want) {
		t.Errorf("merge slack 2 = %v, want %v", got, want)
	}
}
