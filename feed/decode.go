package feed

import (
	"errors"
	"fmt"
)

// msgKind classifies a non-data message of an `a[...]` frame.
type msgKind uint8

const (
	msgResponse msgKind = iota + 1 // {"i":…,"s":…,"d":…}
	msgShutdown                    // {"e":"shutdown","d":{…}}
	msgEvent                       // any other non-md event (props, clock, chart, unknown)
)

// message is a response or a non-md event. d is the raw JSON of the `d`
// field; it aliases the frame buffer and is valid until the next read.
type message struct {
	kind   msgKind
	id     int64
	status int
	event  []byte // the `e` value for msgEvent
	d      []byte
}

// decoder turns the payload of an `a[...]` frame into a data Batch and a
// list of other messages. It keeps its buffers between frames: one decoder
// per connection, used by the reader goroutine only.
type decoder struct {
	s    scanner
	msgs []message
	// skipped counts elements dropped for bad content (a quote without
	// contractId, a bad timestamp …) in the last frame; skipErr says why.
	skipped int
	skipErr error
	b       *Batch
	// noCompact turns the compact paths off (tests compare both ways).
	noCompact bool
	minute    minuteCache // of the compact paths' timestamps
}

var errSyntax = errors.New("malformed JSON")

// decode decodes payload (a JSON array) into b (its Quotes and DOMs are
// reset first) and d.msgs. A syntax error leaves b empty and returns an
// error: the whole frame is then an anomaly.
func (d *decoder) decode(payload []byte, b *Batch) error {
	b.Quotes = b.Quotes[:0]
	b.DOMs = b.DOMs[:0]
	d.msgs = d.msgs[:0]
	d.skipped, d.skipErr = 0, nil
	d.b = b
	d.s.reset(payload)
	ok := d.s.array(d.element)
	if ok && d.s.peek() != 0 {
		ok = false
	}
	if !ok {
		b.Quotes = b.Quotes[:0]
		b.DOMs = b.DOMs[:0]
		d.msgs = d.msgs[:0]
		return fmt.Errorf("decode frame at byte %d: %w", d.s.i, errSyntax)
	}
	return nil
}

// element decodes one message of the array.
func (d *decoder) element() bool {
	if !d.noCompact && d.compactMD() {
		return true
	}
	s := &d.s
	var (
		ev           []byte
		haveE, haveI bool
		haveS        bool
		id           int64
		status       int64
		dStart       = -1
		dEnd         int
		handled      bool
	)
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "e":
			v, ok := s.str()
			ev, haveE = v, ok
			return ok
		case "i":
			if s.null() {
				return true
			}
			v, ok := s.int()
			id, haveI = v, ok
			return ok
		case "s":
			v, ok := s.int()
			status, haveS = v, ok
			return ok
		case "d":
			if haveE && string(ev) == "md" {
				handled = true
				return d.md()
			}
			s.ws()
			dStart = s.i
			ok := s.skip()
			dEnd = s.i
			return ok
		}
		return s.skip()
	})
	if !ok {
		return false
	}
	var raw []byte
	if dStart >= 0 {
		raw = s.b[dStart:dEnd]
	}
	switch {
	case haveE && string(ev) == "md":
		if !handled && raw != nil {
			// `d` came before `e`: decode it now.
			save := *s
			s.reset(raw)
			ok := d.md()
			*s = save
			return ok
		}
	case haveE && string(ev) == "shutdown":
		d.msgs = append(d.msgs, message{kind: msgShutdown, d: raw})
	case haveE:
		d.msgs = append(d.msgs, message{kind: msgEvent, event: ev, d: raw})
	case haveI || haveS:
		d.msgs = append(d.msgs, message{kind: msgResponse, id: id, status: int(status), d: raw})
	default:
		d.skip(errors.New("message is neither a response nor an event"))
	}
	return true
}

func (d *decoder) skip(err error) {
	d.skipped++
	if d.skipErr == nil {
		d.skipErr = err
	}
}

// md decodes the `d` object of an md event: quotes and doms; histograms
// and unknown keys are skipped.
func (d *decoder) md() bool {
	s := &d.s
	if s.null() {
		return true
	}
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "quotes":
			if s.null() {
				return true
			}
			return s.array(d.quote)
		case "doms":
			if s.null() {
				return true
			}
			return s.array(d.dom)
		}
		return s.skip()
	})
}

// quote decodes one element of `quotes`.
func (d *decoder) quote() bool {
	s := &d.s
	b := d.b
	b.Quotes = append(b.Quotes, Quote{})
	q := &b.Quotes[len(b.Quotes)-1]
	if !d.noCompact {
		if end, ok := compactQuote(s.b, s.i, q, &d.minute); ok {
			s.i = end
			return true
		}
		*q = Quote{}
	}
	var haveTS, haveID, badTS bool
	if !s.open() {
		return false
	}
	for first := true; ; {
		key, end, ok := s.nextKey(&first)
		if !ok {
			return false
		}
		if end {
			break
		}
		switch string(key) {
		case "timestamp":
			v, ok := s.str()
			if !ok {
				return false
			}
			q.Timestamp, haveTS = parseTimestamp(v)
			badTS = !haveTS
		case "contractId":
			q.ContractID, haveID = s.int()
			if !haveID {
				return false
			}
		case "entries":
			if !s.null() && !d.entries(q) {
				return false
			}
		default:
			if !s.skip() {
				return false
			}
		}
	}
	s.depth--
	if !haveID || !haveTS {
		b.Quotes = b.Quotes[:len(b.Quotes)-1]
		switch {
		case !haveID:
			d.skip(errors.New("quote without contractId"))
		case badTS:
			d.skip(errors.New("quote with a malformed timestamp"))
		default:
			d.skip(errors.New("quote without timestamp"))
		}
	}
	return true
}

// entries decodes a quote's `entries` object.
func (d *decoder) entries(q *Quote) bool {
	s := &d.s
	if !s.open() {
		return false
	}
	for first := true; ; {
		name, end, ok := s.nextKey(&first)
		if !ok {
			return false
		}
		if end {
			break
		}
		if !d.entry(q, name) {
			return false
		}
	}
	s.depth--
	return true
}

// entryFields maps the name of a quote's entry to the flags and fields
// of its price and size; both fields are nil for a name mdcap does not
// store.
func entryFields(q *Quote, name []byte) (pFlag, sFlag uint16, pDst, sDst *float64) {
	switch string(name) {
	case "Bid":
		pFlag, sFlag, pDst, sDst = HasBid, HasBidSize, &q.Bid, &q.BidSize
	case "Offer":
		pFlag, sFlag, pDst, sDst = HasAsk, HasAskSize, &q.Ask, &q.AskSize
	case "Trade":
		pFlag, sFlag, pDst, sDst = HasTrade, HasTradeSize, &q.Trade, &q.TradeSize
	case "TotalTradeVolume":
		sFlag, sDst = HasTotalVolume, &q.TotalVol
	case "OpenInterest":
		sFlag, sDst = HasOpenInterest, &q.OpenInt
	case "OpeningPrice":
		pFlag, pDst = HasOpen, &q.Open
	case "HighPrice":
		pFlag, pDst = HasHigh, &q.High
	case "LowPrice":
		pFlag, pDst = HasLow, &q.Low
	case "SettlementPrice":
		pFlag, pDst = HasSettlement, &q.Settlement
	}
	return
}

// entry decodes one named entry of a quote's `entries`.
func (d *decoder) entry(q *Quote, name []byte) bool {
	pFlag, sFlag, pDst, sDst := entryFields(q, name)
	if pDst == nil && sDst == nil {
		return d.s.skip()
	}
	s := &d.s
	if s.null() {
		return true
	}
	if !s.open() {
		return false
	}
	for first := true; ; {
		var key []byte
		// Fast path for the usual compact `"price":` / `"size":` keys.
		if j := s.i + btoi(!first); j < len(s.b) && (first || s.b[s.i] == ',') && s.b[j] == '"' {
			switch {
			case hasAt(s.b, j, `"price":`):
				key, s.i, first = keyPrice, j+8, false
			case hasAt(s.b, j, `"size":`):
				key, s.i, first = keySize, j+7, false
			}
		}
		if key == nil {
			var end, ok bool
			key, end, ok = s.nextKey(&first)
			if !ok {
				return false
			}
			if end {
				break
			}
		}
		switch {
		case string(key) == "price" && pDst != nil:
			v, present, ok := s.float()
			if !ok {
				return false
			}
			if present {
				*pDst = v
				q.Has |= pFlag
			}
		case string(key) == "size" && sDst != nil:
			v, present, ok := s.float()
			if !ok {
				return false
			}
			if present {
				*sDst = v
				q.Has |= sFlag
			}
		default:
			if !s.skip() {
				return false
			}
		}
	}
	s.depth--
	return true
}

// dom decodes one element of `doms`, reusing the level slices of the
// batch's previous DOMs.
func (d *decoder) dom() bool {
	s := &d.s
	b := d.b
	n := len(b.DOMs)
	if n < cap(b.DOMs) {
		b.DOMs = b.DOMs[:n+1]
	} else {
		b.DOMs = append(b.DOMs, DOM{})
	}
	m := &b.DOMs[n]
	m.ContractID, m.Timestamp = 0, 0
	m.Bids, m.Offers = m.Bids[:0], m.Offers[:0]
	if !d.noCompact {
		end, ok := compactDOM(s.b, s.i, m, &d.minute)
		if ok {
			s.i = end
			return true
		}
		m.ContractID, m.Timestamp = 0, 0
		m.Bids, m.Offers = m.Bids[:0], m.Offers[:0]
	}
	var haveTS, haveID, badTS bool
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "timestamp":
			v, ok := s.str()
			if !ok {
				return false
			}
			m.Timestamp, haveTS = parseTimestamp(v)
			badTS = !haveTS
			return true
		case "contractId":
			v, ok := s.int()
			m.ContractID, haveID = v, ok
			return ok
		case "bids":
			if s.null() {
				return true
			}
			return s.array(func() bool { return d.level(&m.Bids) })
		case "offers":
			if s.null() {
				return true
			}
			return s.array(func() bool { return d.level(&m.Offers) })
		}
		return s.skip()
	})
	if !ok {
		return false
	}
	if !haveID || !haveTS {
		b.DOMs = b.DOMs[:n]
		switch {
		case !haveID:
			d.skip(errors.New("dom without contractId"))
		case badTS:
			d.skip(errors.New("dom with a malformed timestamp"))
		default:
			d.skip(errors.New("dom without timestamp"))
		}
	}
	return true
}

func (d *decoder) level(side *[]Level) bool {
	s := &d.s
	var l Level
	if !s.open() {
		return false
	}
	first := true
	// Fast path for the server's compact {"price":P,"size":S} (40 of them
	// in a 10-level DOM); anything else continues in the general loop.
	if hasAt(s.b, s.i, `"price":`) {
		s.i += len(`"price":`)
		var ok bool
		if l.Price, l.HasPrice, ok = s.float(); !ok {
			return false
		}
		first = false
		if hasAt(s.b, s.i, `,"size":`) {
			s.i += len(`,"size":`)
			if l.Size, l.HasSize, ok = s.float(); !ok {
				return false
			}
		}
	}
	for {
		key, end, ok := s.nextKey(&first)
		if !ok {
			return false
		}
		if end {
			break
		}
		switch string(key) {
		case "price":
			l.Price, l.HasPrice, ok = s.float()
		case "size":
			l.Size, l.HasSize, ok = s.float()
		default:
			ok = s.skip()
		}
		if !ok {
			return false
		}
	}
	s.depth--
	*side = append(*side, l)
	return true
}

var (
	keyPrice = []byte("price")
	keySize  = []byte("size")
)

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hasAt reports whether b holds lit at offset i.
func hasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}
