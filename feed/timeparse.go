package feed

import (
	"time"
)

// parseTimestamp parses an RFC 3339 timestamp with any number of fraction
// digits (`2021-04-13T04:59:06.588Z`, `…06Z`, `…06.588123+02:00`) into Unix
// nanoseconds without allocating. Anything else falls back to time.Parse.
func parseTimestamp(b []byte) (int64, bool) {
	if ns, ok := parseTimestampFast(b); ok {
		return ns, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

func parseTimestampFast(b []byte) (int64, bool) {
	if len(b) < 20 {
		return 0, false
	}
	base, ok := parseMinute(b[:16])
	if !ok {
		return 0, false
	}
	return finishTimestamp(base, b[16:])
}

// parseMinute parses the `YYYY-MM-DDTHH:MM` that starts a timestamp into
// Unix seconds.
func parseMinute(b []byte) (int64, bool) {
	if len(b) != 16 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 {
		return 0, false
	}
	return daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60), true
}

// finishTimestamp parses the `:SS[.fraction](Z|±hh:mm)` that ends a
// timestamp whose minute is base (Unix seconds) into Unix nanoseconds.
func finishTimestamp(base int64, b []byte) (int64, bool) {
	if len(b) < 4 || b[0] != ':' {
		return 0, false
	}
	sec, ok := digits(b[1:3])
	if !ok || sec > 59 {
		return 0, false
	}
	i := 3
	var frac int64
	if b[i] == '.' {
		i++
		start := i
		scale := int64(100000000)
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			frac += int64(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start || i-start > 9 {
			return 0, false
		}
	}
	if i >= len(b) {
		return 0, false
	}
	var offset int64
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return 0, false
		}
		oh, okh := digits(b[i+1 : i+3])
		om, okm := digits(b[i+4 : i+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		offset = int64(oh*3600 + om*60)
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	return (base+int64(sec)-offset)*1e9 + frac, true
}

// minuteCache remembers the date, hour and minute of the last timestamp
// and their value: consecutive updates share them, and then only the
// seconds, fraction and zone are parsed. Equal bytes give an equal value,
// so the result is exactly parseTimestampFast's.
type minuteCache struct {
	prefix [16]byte
	base   int64
	ok     bool
}

// parse is parseTimestampFast with the cache.
func (m *minuteCache) parse(b []byte) (int64, bool) {
	if len(b) < 20 {
		return 0, false
	}
	if !m.ok || string(b[:16]) != string(m.prefix[:]) {
		base, ok := parseMinute(b[:16])
		if !ok {
			return 0, false
		}
		copy(m.prefix[:], b[:16])
		m.base, m.ok = base, true
	}
	return finishTimestamp(m.base, b[16:])
}

// digits parses a short run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
