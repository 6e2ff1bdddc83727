package sim

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// tsLayout is the server timestamp format: ISO-8601 UTC, milliseconds, Z.
const tsLayout = "2006-01-02T15:04:05.000Z"

// appendTS appends the server timestamp string of ms (no quotes).
func appendTS(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, tsLayout)
}

// appendPrice appends a price with at most the contract's decimals,
// trailing zeros trimmed, as a JSON number. Prices sit on the tick grid,
// so integer arithmetic prints them exactly (and much faster than
// strconv's float formatting).
func appendPrice(b []byte, v float64, decimals int) []byte {
	if decimals < 0 || decimals > 10 || math.Abs(v) > 1e15/math.Pow10(decimals) {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	scaleF := math.Pow10(decimals)
	n := int64(math.Round(v * scaleF))
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	scale := int64(scaleF)
	b = strconv.AppendInt(b, n/scale, 10)
	frac := n % scale
	if frac == 0 {
		return b
	}
	b = append(b, '.')
	digits := decimals
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	var tmp [20]byte
	f := strconv.AppendInt(tmp[:0], frac, 10)
	for i := len(f); i < digits; i++ {
		b = append(b, '0')
	}
	return append(b, f...)
}

// appendNum appends a size or volume as a JSON number.
func appendNum(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// appendUpdate appends the JSON object of u as it appears inside the
// `quotes` or `doms` array of an md event.
func appendUpdate(b []byte, u *update) []byte {
	if b == nil {
		b = make([]byte, 0, 192+len(u.bids)*48+len(u.offers)*48)
	}
	if u.kind == kindDOM {
		return appendDOM(b, u)
	}
	return appendQuote(b, u)
}

func appendQuote(b []byte, u *update) []byte {
	dec := u.c.decimals
	b = append(b, `{"timestamp":"`...)
	b = appendTS(b, u.ms)
	b = append(b, `","contractId":`...)
	b = strconv.AppendInt(b, u.c.ID, 10)
	b = append(b, `,"entries":{`...)
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	priceSize := func(name string, p, s float64) {
		sep()
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":{"price":`...)
		b = appendPrice(b, p, dec)
		b = append(b, `,"size":`...)
		b = appendNum(b, s)
		b = append(b, '}')
	}
	sizeOnly := func(name string, s float64) {
		sep()
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":{"size":`...)
		b = appendNum(b, s)
		b = append(b, '}')
	}
	priceOnly := func(name string, p float64) {
		sep()
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":{"price":`...)
		b = appendPrice(b, p, dec)
		b = append(b, '}')
	}
	if u.has&entBid != 0 {
		priceSize("Bid", u.bid, u.bidSize)
	}
	if u.has&entOffer != 0 {
		priceSize("Offer", u.ask, u.askSize)
	}
	if u.has&entTrade != 0 {
		priceSize("Trade", u.trade, u.tradeSize)
	}
	if u.has&entVolume != 0 {
		sizeOnly("TotalTradeVolume", u.volume)
	}
	if u.has&entOpenInterest != 0 {
		sizeOnly("OpenInterest", u.openInterest)
	}
	if u.has&entOpen != 0 {
		priceOnly("OpeningPrice", u.open)
	}
	if u.has&entHigh != 0 {
		priceOnly("HighPrice", u.high)
	}
	if u.has&entLow != 0 {
		priceOnly("LowPrice", u.low)
	}
	if u.has&entSettlement != 0 {
		priceOnly("SettlementPrice", u.settlement)
	}
	return append(b, "}}"...)
}

func appendDOM(b []byte, u *update) []byte {
	dec := u.c.decimals
	b = append(b, `{"contractId":`...)
	b = strconv.AppendInt(b, u.c.ID, 10)
	b = append(b, `,"timestamp":"`...)
	b = appendTS(b, u.ms)
	b = append(b, `","bids":`...)
	b = appendLevels(b, u.bids, dec)
	b = append(b, `,"offers":`...)
	b = appendLevels(b, u.offers, dec)
	return append(b, '}')
}

func appendLevels(b []byte, ls []level, dec int) []byte {
	b = append(b, '[')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"price":`...)
		b = appendPrice(b, l.price, dec)
		b = append(b, `,"size":`...)
		b = appendNum(b, l.size)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return append(b, `""`...)
	}
	return append(b, q...)
}
