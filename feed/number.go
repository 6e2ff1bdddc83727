package feed

import (
	"strconv"
	"unsafe"
)

// pow10 holds the powers of ten that are exact float64 values.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastDecimal reads a plain JSON decimal -?(0|[1-9][0-9]*)(\.[0-9]+)? at
// b[i:] and returns its value and the index after it. It answers only
// when the result is certainly what strconv.ParseFloat returns: the digits
// (without the dot) form an integer of at most 2^53, which float64 holds
// exactly, and the number of fraction digits is at most 22, so 10^frac is
// exact too; one IEEE division of two exact values is correctly rounded,
// which is ParseFloat's result. Anything else — an exponent, more digits,
// a leading zero, a dot without digits — reports ok=false and is left to
// the caller's slow path; so does a number followed by 'e', 'E' or '.',
// so that the caller never mistakes a prefix for the number.
func fastDecimal(b []byte, i int) (v float64, end int, ok bool) {
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var mant uint64
	for i < len(b) && b[i]-'0' <= 9 {
		mant = mant*10 + uint64(b[i]-'0')
		i++
	}
	nInt := i - start
	if nInt == 0 || (nInt > 1 && b[start] == '0') {
		return 0, 0, false
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for i < len(b) && b[i]-'0' <= 9 {
			mant = mant*10 + uint64(b[i]-'0')
			i++
		}
		frac = i - fs
		if frac == 0 {
			return 0, 0, false // "1." is not a number
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E' || b[i] == '.') {
		return 0, 0, false
	}
	// 19 digits cannot overflow uint64; within them the mantissa must be
	// exact in float64. 15 digits always are (< 2^53).
	if nd := nInt + frac; nd > 15 && (nd > 19 || mant > 1<<53) || frac >= len(pow10) {
		return 0, 0, false
	}
	v = float64(int64(mant)) // mant ≤ 2^53: the signed conversion is exact, and cheaper
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// parseNumber parses a JSON number: plain decimals through fastDecimal,
// the rest through strconv without allocating. Text outside the JSON
// number grammar, and numbers beyond float64's range, are refused.
func parseNumber(tok []byte) (float64, bool) {
	if v, end, ok := fastDecimal(tok, 0); ok && end == len(tok) {
		return v, true
	}
	if !validNumber(tok) {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
	return f, err == nil
}

// validNumber checks the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(t []byte) bool {
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	if i >= len(t) {
		return false
	}
	if t[i] == '0' {
		i++
	} else if t[i] >= '1' && t[i] <= '9' {
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(t) && t[i] == '.' {
		i++
		st := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == st {
			return false
		}
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		st := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == st {
			return false
		}
	}
	return i == len(t)
}
