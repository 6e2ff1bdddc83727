package verify

// coverage turns a stream of timestamps, in any order, into spans within
// which no two consecutive timestamps are more than slack apart. It keeps
// one open span and extends it while each new value lies within slack of
// it; a value outside closes the span and opens a new one. Both ends of a
// span are always real timestamps, so a span never hides a hole longer
// than slack. Out-of-order input only produces more (overlapping) spans,
// which merge() folds together. Memory is proportional to the number of
// holes, not to the number of values.
type coverage struct {
	slack     int64
	cur       span
	open      bool
	spans     []span
	compactAt int
}

func newCoverage(slack int64) *coverage {
	return &coverage{slack: slack, compactAt: 4096}
}

// add folds vals into the coverage.
func (c *coverage) add(vals []int64) {
	slack := c.slack
	cur, open := c.cur, c.open
	lo, hi := cur.Start-slack, cur.End+slack
	for _, v := range vals {
		if open && v >= lo && v <= hi {
			if v > cur.End {
				cur.End = v
				hi = v + slack
			} else if v < cur.Start {
				cur.Start = v
				lo = v - slack
			}
			continue
		}
		if open {
			c.spans = append(c.spans, cur)
		}
		cur, open = span{v, v}, true
		lo, hi = v-slack, v+slack
	}
	c.cur, c.open = cur, open
	if len(c.spans) >= c.compactAt {
		c.spans = mergeSpans(c.spans, slack)
		if len(c.spans) > c.compactAt/2 {
			c.compactAt *= 2
		}
	}
}

// merge closes the open span and returns the sorted, merged spans: any
// two of them are more than slack apart.
func (c *coverage) merge() []span {
	if c.open {
		c.spans = append(c.spans, c.cur)
		c.open = false
	}
	c.spans = mergeSpans(c.spans, c.slack)
	return c.spans
}

// tableStats counts the rows of one table in one partition.
type tableStats struct {
	Rows        int64
	First, Last int64 // min and max recv_ts; valid when Rows > 0
}

// addRange counts n rows whose recv_ts lie in [lo, hi].
func (t *tableStats) addRange(n, lo, hi int64) {
	if n == 0 {
		return
	}
	if t.Rows == 0 || lo < t.First {
		t.First = lo
	}
	if t.Rows == 0 || hi > t.Last {
		t.Last = hi
	}
	t.Rows += n
}

// minMax returns the smallest and largest of a non-empty vals.
func minMax(vals []int64) (lo, hi int64) {
	lo, hi = vals[0], vals[0]
	for _, v := range vals[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	return lo, hi
}

// clip keeps the values of vals inside [lo, hi), reusing its array.
func clip(vals []int64, lo, hi int64) []int64 {
	out := vals[:0]
	for _, v := range vals {
		if v >= lo && v < hi {
			out = append(out, v)
		}
	}
	return out
}
