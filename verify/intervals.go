package verify

import "slices"

// span is a time interval [Start, End] in Unix nanoseconds. Its length is
// End-Start. Lists of spans handled by the helpers below are sorted by
// Start and disjoint unless said otherwise.
type span struct {
	Start, End int64
}

func (s span) len() int64 { return s.End - s.Start }

// mergeSpans sorts spans and merges those that overlap or lie within
// slack of each other (slack 0 merges touching spans). It reuses the
// backing array of in.
func mergeSpans(in []span, slack int64) []span {
	if len(in) < 2 {
		return in
	}
	slices.SortFunc(in, func(a, b span) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	out := in[:1]
	for _, s := range in[1:] {
		last := &out[len(out)-1]
		if s.Start-last.End <= slack {
			if s.End > last.End {
				last.End = s.End
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// complementWithin returns the parts of [lo, hi] not covered by the
// sorted, disjoint spans in covered.
func complementWithin(covered []span, lo, hi int64) []span {
	var out []span
	cur := lo
	for _, c := range covered {
		if c.End < cur {
			continue
		}
		if c.Start >= hi {
			break
		}
		if c.Start > cur {
			out = append(out, span{cur, c.Start})
		}
		if c.End > cur {
			cur = c.End
		}
	}
	if cur < hi {
		out = append(out, span{cur, hi})
	}
	return out
}

// intersectSpans returns the intersection of two sorted, disjoint lists.
func intersectSpans(a, b []span) []span {
	var out []span
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s := max(a[i].Start, b[j].Start)
		e := min(a[i].End, b[j].End)
		if s < e {
			out = append(out, span{s, e})
		}
		if a[i].End < b[j].End {
			i++
		} else {
			j++
		}
	}
	return out
}

// subtractSpans returns a minus b; both sorted and disjoint.
func subtractSpans(a, b []span) []span {
	var out []span
	j := 0
	for _, s := range a {
		cur := s.Start
		for j < len(b) && b[j].End <= cur {
			j++
		}
		for k := j; k < len(b) && b[k].Start < s.End; k++ {
			if b[k].Start > cur {
				out = append(out, span{cur, b[k].Start})
			}
			if b[k].End > cur {
				cur = b[k].End
			}
		}
		if cur < s.End {
			out = append(out, span{cur, s.End})
		}
	}
	return out
}
