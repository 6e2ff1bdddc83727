package feed

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// wantNumber is the reference: what strconv.ParseFloat returns for a
// token that is a JSON number (json.Valid decides the grammar), and
// ok=false for anything else or a number beyond float64's range.
func wantNumber(tok string) (float64, bool) {
	if tok == "" || !json.Valid([]byte(tok)) || strings.ContainsAny(tok, "\"[]{}tfn \t\r\n") {
		return 0, false
	}
	v, err := strconv.ParseFloat(tok, 64)
	return v, err == nil
}

// checkNumber compares parseNumber and the scanner's float (followed by
// each delimiter the decoder meets) with the reference, bit for bit.
func checkNumber(t *testing.T, tok string) {
	t.Helper()
	want, wantOK := wantNumber(tok)
	got, ok := parseNumber([]byte(tok))
	if ok != wantOK || (ok && math.Float64bits(got) != math.Float64bits(want)) {
		t.Fatalf("parseNumber(%q) = %v (%#x), %v; strconv says %v (%#x), %v", tok, got, math.Float64bits(got), ok, want, math.Float64bits(want), wantOK)
	}
	// The scanner skips the white space before a value.
	want, wantOK = wantNumber(strings.TrimLeft(tok, " \t\r\n"))
	// Delimiters long enough that the digits are read eight at a time,
	// and bytes that carry when the digit test adds to them.
	for _, delim := range []string{"", ",", "}", "]", `,"size":12}]}}]`, "}}}}}}}}}}}}}}}", "\xff\xfa\xff\xfa\xff\xfa\xff\xfa\xff", ":/:/:/:/:/:/"} {
		var s scanner
		s.reset([]byte(tok + delim))
		got, present, ok := s.float()
		ok = ok && present && s.i == len(tok)
		if ok != wantOK || (ok && math.Float64bits(got) != math.Float64bits(want)) {
			t.Fatalf("scanner.float(%q) = %v, ok=%v, read %d; strconv says %v, %v", tok+delim, got, ok, s.i, want, wantOK)
		}
	}
}

// TestNumberEdges: the inputs where a fast decimal path goes wrong, if
// it does (exactness limits, signed zero, halfway cases, grammar).
func TestNumberEdges(t *testing.T) {
	for _, tok := range []string{
		"0", "-0", "0.0", "-0.0", "1", "-1", "7", "18405.25", "12.35", "0.1", "0.2", "0.3", "4.35", "2335.25", "-7.125",
		"999999999999999", "0.999999999999999", "99999999999999.9", "123456789012345", "-123456789012345",
		"9007199254740991", "9007199254740992", "9007199254740993", "9007199254740994", "9007199254740995",
		"900719925474099.3", "0.9007199254740993", "1234567890123456", "1234567890123456789", "12345678901234567890",
		"18446744073709551615", "18446744073709551616", "0.0000000000000000000001", "0.00000000000000000000001",
		"1.0000000000000000001", "0.30000000000000004", "2.2250738585072011e-308", "2.2250738585072012e-308",
		"5e-324", "4.9406564584124654e-324", "1e-400", "1.7976931348623157e308", "1.7976931348623159e308", "1e309",
		"1e23", "8.98846567431158e307", "1e3", "1E3", "1e+3", "1e-3", "2.5E-3", "-1e0",
		"", "-", "--1", "+1", "01", "-01", "00", "00.5", "1.", "-1.", ".5", "-.5", "1..2", "1.2.3", "1e", "1e+", "1e-",
		"e5", "1x", "0x10", "Infinity", "NaN", "-Inf", "1_000", " 1", "1 ", "١",
	} {
		checkNumber(t, tok)
	}
}

// TestNumberProperty: random decimals of every length (the feed's shape,
// up to and beyond the exact range), with and without exponents, and
// random strings over the number alphabet, give exactly what strconv
// gives.
func TestNumberProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	digits := func(n int, noLead bool) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			d := rng.IntN(10)
			if i == 0 && noLead && d == 0 {
				d = 1 + rng.IntN(9)
			}
			b.WriteByte(byte('0' + d))
		}
		return b.String()
	}
	const alphabet = "0123456789.-+eE"
	for n := 0; n < 300000; n++ {
		var tok string
		switch n % 4 {
		case 0, 1: // a decimal as the feed sends it
			intPart := "0"
			if k := rng.IntN(17); k > 0 {
				intPart = digits(k, true)
			}
			tok = intPart
			if rng.IntN(3) > 0 {
				tok += "." + digits(1+rng.IntN(18), false)
			}
			if rng.IntN(2) == 0 {
				tok = "-" + tok
			}
		case 2: // with an exponent, or longer
			tok = digits(1+rng.IntN(25), true)
			if rng.IntN(2) == 0 {
				tok += "." + digits(1+rng.IntN(25), false)
			}
			if rng.IntN(2) == 0 {
				tok += "e" + []string{"", "+", "-"}[rng.IntN(3)] + strconv.Itoa(rng.IntN(400))
			}
		default: // anything over the alphabet
			b := make([]byte, 1+rng.IntN(12))
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			tok = string(b)
		}
		checkNumber(t, tok)
	}
	// Every float64 printed the shortest way and with fixed decimals
	// parses back to itself.
	for n := 0; n < 100000; n++ {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		checkNumber(t, strconv.FormatFloat(f, 'g', -1, 64))
		v := float64(rng.Int64N(1e12)) / pow10[rng.IntN(8)]
		checkNumber(t, strconv.FormatFloat(v, 'f', -1, 64))
		checkNumber(t, strconv.FormatFloat(v, 'f', rng.IntN(10), 64))
	}
}

// FuzzParseNumber compares the decoder's number parsing with
// strconv.ParseFloat on any input.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "18405.25", "0.1", "9007199254740993", "1234567890123456789", "1e23", "01", "1.", "-", "5e-324", "1.7976931348623159e308"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		checkNumber(t, tok)
	})
}
