package sim

import (
	"encoding/json"
	"strconv"
	"time"
)

// tsLayout is the server timestamp format: ISO-8601 UTC, milliseconds, Z.
const tsLayout = "2006-01-02T15:04:05.000Z"

// appendTS appends the server timestamp string of ms (no quotes).
func appendTS(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, tsLayout)
}

// appendPrice appends a price with the contract's decimals, trailing zeros
// trimmed, as a JSON number.
func appendPrice(b []byte, v float64, decimals int) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', decimals, 64)
	if decimals > 0 {
		end := len(b)
		for end > start && b[end-1] == '0' {
			end--
		}
		if end > start && b[end-1] == '.' {
			end--
		}
		b = b[:end]
	}
	return b
}

// appendNum appends a size or volume as a JSON number.
func appendNum(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// appendUpdate appends the JSON object of u as it appears inside the
// `quotes` or `doms` array of an md event.
func appendUpdate(b []byte, u *update) []byte {
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
