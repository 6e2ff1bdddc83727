package feed

// The compact paths decode an md event, a quote or a DOM written exactly
// the way the server writes them: no white space, keys in the server's
// order, numbers as plain decimals, no escapes, no nulls, no unknown
// keys. Each one either decodes its element completely or reports
// ok=false having changed nothing the caller keeps; the caller then
// decodes the same bytes with the general scanner, which accepts any
// valid JSON. So a compact path never changes what a frame decodes to; it
// only skips the general path's generality when it is not needed. The
// tests decode every input both ways (decoder.noCompact) and compare.

// compactMD decodes an element `{"e":"md","d":{"quotes":[…]}}` or
// `{"e":"md","d":{"doms":[…]}}` at s.i. On failure it restores the
// scanner, the batch and the skip count: the caller decodes the element
// with the general path.
func (d *decoder) compactMD() bool {
	s := &d.s
	b := s.b
	i := s.i
	if !hasAt2(b, i, `{"e":"md`, `","d":{"`) {
		return false
	}
	i += len(`{"e":"md","d":{"`)
	var elem func() bool
	switch {
	case hasAt2(b, i, `quotes":`, `[`):
		i += len(`quotes":[`)
		elem = d.quote
	case hasAt(b, i, `doms":[`):
		i += len(`doms":[`)
		elem = d.dom
	default:
		return false
	}
	start, nq, nd, skipped, skipErr := s.i, len(d.b.Quotes), len(d.b.DOMs), d.skipped, d.skipErr
	s.i = i
	// The elements sit three levels deeper (element, d, array) than the
	// element: the general path counts them too, and the depth limit
	// must fall at the same place. A failed element leaves the depth
	// wherever it stopped: restore it.
	depth := s.depth
	s.depth += 3
	ok := true
	if i >= len(b) || b[i] != ']' {
		for ok = elem(); ok && s.i < len(b) && b[s.i] == ','; ok = elem() {
			s.i++
		}
	}
	s.depth = depth
	if ok && hasAt(b, s.i, "]}}") {
		s.i += 3
		return true
	}
	s.i = start
	d.b.Quotes = d.b.Quotes[:nq]
	d.b.DOMs = d.b.DOMs[:nd]
	d.skipped, d.skipErr = skipped, skipErr
	return false
}

// compactQuote decodes a quote
// `{"timestamp":"…","contractId":N,"entries":{"Bid":{"price":P,"size":S},…}}`
// at b[i:] into q (which must be zero) and returns the index after it.
// On failure q may be partly filled: the caller zeroes it.
func compactQuote(b []byte, i int, q *Quote, mc *minuteCache) (int, bool) {
	if !hasAt2(b, i, `{"timest`, `amp":"`) {
		return 0, false
	}
	i += len(`{"timestamp":"`)
	ts, i, ok := compactTimestamp(b, i, mc)
	if !ok || !hasAt2(b, i, `","contr`, `actId":`) {
		return 0, false
	}
	q.Timestamp = ts
	if q.ContractID, i, ok = compactID(b, i+len(`","contractId":`)); !ok || !hasAt2(b, i, `,"entrie`, `s":{`) {
		return 0, false
	}
	i += len(`,"entries":{`)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i, ok = compactEntry(b, i, q); !ok || i >= len(b) {
				return 0, false
			}
			c := b[i]
			i++
			if c == '}' {
				break
			}
			if c != ',' {
				return 0, false
			}
		}
	}
	if i >= len(b) || b[i] != '}' {
		return 0, false
	}
	return i + 1, true
}

// compactEntry decodes one `"Name":{"price":P,"size":S}` (or with the
// price or the size alone) of a quote's entries.
func compactEntry(b []byte, i int, q *Quote) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i++
	j := i
	for j < len(b) && j-i < 20 && b[j] != '"' {
		j++
	}
	if !hasAt(b, j, `":{"`) {
		return 0, false
	}
	name := b[i:j]
	i = j + len(`":{"`)
	pFlag, sFlag, pDst, sDst := entryFields(q, name)
	if pDst == nil && sDst == nil {
		return 0, false
	}
	var ok bool
	var v float64
	if pDst != nil && hasAt(b, i, `price":`) {
		if v, i, ok = fastDecimal(b, i+len(`price":`)); !ok {
			return 0, false
		}
		*pDst = v
		q.Has |= pFlag
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		if !hasAt(b, i, `,"`) {
			return 0, false
		}
		i += 2
	}
	if sDst == nil || !hasAt(b, i, `size":`) {
		return 0, false
	}
	if v, i, ok = fastDecimal(b, i+len(`size":`)); !ok || i >= len(b) || b[i] != '}' {
		return 0, false
	}
	*sDst = v
	q.Has |= sFlag
	return i + 1, true
}

// compactDOM decodes a DOM
// `{"contractId":N,"timestamp":"…","bids":[{"price":P,"size":S},…],"offers":[…]}`
// at b[i:] into m (whose sides must be empty) and returns the index
// after it. On failure m may be partly filled: the caller resets it.
func compactDOM(b []byte, i int, m *DOM, mc *minuteCache) (int, bool) {
	if !hasAt2(b, i, `{"contra`, `ctId":`) {
		return 0, false
	}
	var ok bool
	if m.ContractID, i, ok = compactID(b, i+len(`{"contractId":`)); !ok || !hasAt2(b, i, `,"timest`, `amp":"`) {
		return 0, false
	}
	if m.Timestamp, i, ok = compactTimestamp(b, i+len(`,"timestamp":"`), mc); !ok || !hasAt2(b, i, `","bids"`, `:[`) {
		return 0, false
	}
	if m.Bids, i, ok = compactLevels(b, i+len(`","bids":[`), m.Bids); !ok || !hasAt2(b, i, `,"offers`, `":[`) {
		return 0, false
	}
	if m.Offers, i, ok = compactLevels(b, i+len(`,"offers":[`), m.Offers); !ok || i >= len(b) || b[i] != '}' {
		return 0, false
	}
	return i + 1, true
}

// compactLevels appends the levels `{"price":P,"size":S},…]` of one DOM
// side (its '[' already read) to side and returns the index after ']'.
func compactLevels(b []byte, i int, side []Level) ([]Level, int, bool) {
	if i < len(b) && b[i] == ']' {
		return side, i + 1, true
	}
	for {
		if !hasAt2(b, i, `{`, `"price":`) {
			return side, 0, false
		}
		var l Level
		var ok bool
		if l.Price, i, ok = fastDecimal(b, i+len(`{"price":`)); !ok || !hasAt(b, i, `,"size":`) {
			return side, 0, false
		}
		if l.Size, i, ok = fastDecimal(b, i+len(`,"size":`)); !ok || i+1 >= len(b) || b[i] != '}' {
			return side, 0, false
		}
		l.HasPrice, l.HasSize = true, true
		side = append(side, l)
		c := b[i+1]
		i += 2
		if c == ']' {
			return side, i, true
		}
		if c != ',' {
			return side, 0, false
		}
	}
}

// compactTimestamp reads the content of a timestamp string (its opening
// quote already read) and returns the index of its closing quote.
func compactTimestamp(b []byte, i int, mc *minuteCache) (int64, int, bool) {
	j := i
	for j < len(b) && j-i < 40 && b[j] != '"' {
		j++
	}
	if j >= len(b) || b[j] != '"' {
		return 0, 0, false
	}
	ts, ok := mc.parse(b[i:j]) // refuses escapes and control bytes
	return ts, j, ok
}

// compactID reads a contract id: a positive integer of at most 18 digits
// without a leading zero.
func compactID(b []byte, i int) (int64, int, bool) {
	start := i
	var n int64
	for i < len(b) && b[i]-'0' <= 9 && i-start < 18 {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == start || b[start] == '0' || (i < len(b) && (b[i]-'0' <= 9 || b[i] == '.' || b[i] == 'e' || b[i] == 'E')) {
		return 0, 0, false
	}
	return n, i, true
}

// hasAt2 reports whether b holds a followed by c at offset i. A literal
// longer than eight bytes is passed in two parts of at most eight: each
// then compiles to a load and a compare, where the whole would call
// memequal.
func hasAt2(b []byte, i int, a, c string) bool { return hasAt(b, i, a) && hasAt(b, i+len(a), c) }
