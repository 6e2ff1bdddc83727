package schema

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Partition folder names follow the Hive convention that DuckDB, pyarrow
// and Spark read back: `date=YYYY-MM-DD` then `symbol=<encoded symbol>`.
//
// The symbol is percent-encoded byte by byte the way DuckDB's own
// partitioned writer does: A-Z a-z 0-9 - _ . ~ are kept, every other byte
// becomes %XX in upper-case hex. A value made only of dots ("." or "..")
// has its dots encoded too, so no symbol can name the folder itself or its
// parent. The result never contains '/', '\\', NUL or a control byte, and
// the mapping is one-to-one, so two symbols never share a folder.

const hexUpper = "0123456789ABCDEF"

// keepByte reports whether b stays as it is in an encoded partition value.
func keepByte(b byte) bool {
	switch {
	case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return true
	case b == '-', b == '_', b == '.', b == '~':
		return true
	}
	return false
}

// onlyDots reports whether s is non-empty and made of '.' alone.
func onlyDots(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' {
			return false
		}
	}
	return true
}

// EncodeSymbol turns a symbol into the value part of its `symbol=` folder
// name. It is the only way a symbol becomes a path segment. The empty
// symbol encodes to the empty string, which PartitionDir refuses.
func EncodeSymbol(s string) string {
	dots := onlyDots(s)
	n := 0
	for i := 0; i < len(s); i++ {
		if !keepByte(s[i]) || dots {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepByte(c) && !dots {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&0xF])
	}
	return b.String()
}

// ErrBadSegment is returned by DecodeSymbol for a folder value that
// EncodeSymbol cannot have produced.
var ErrBadSegment = errors.New("malformed partition value")

// DecodeSymbol reverses EncodeSymbol. It also accepts lower-case hex (as
// other writers may produce) but refuses a truncated or non-hex escape.
func DecodeSymbol(seg string) (string, error) {
	if strings.IndexByte(seg, '%') < 0 {
		return seg, nil
	}
	out := make([]byte, 0, len(seg))
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(seg) {
			return "", fmt.Errorf("decode symbol %q: %w: truncated escape at byte %d", seg, ErrBadSegment, i)
		}
		hi, ok1 := unhex(seg[i+1])
		lo, ok2 := unhex(seg[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("decode symbol %q: %w: bad escape at byte %d", seg, ErrBadSegment, i)
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return string(out), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// DateFormat is the layout of the `date=` partition value (a UTC date).
const DateFormat = "2006-01-02"

// PartitionDir returns the folder, relative to the dataset root and with
// forward slashes, that holds table t's files for a UTC date (YYYY-MM-DD)
// and a symbol: "quotes/date=2026-11-25/symbol=ESZ6". It returns "" when
// the table is unknown, the date is not a well-formed date, or the
// symbol is empty; callers treat "" as bad input.
func PartitionDir(t Table, date string, symbol string) string {
	if t >= NumTables || symbol == "" || !validDate(date) {
		return ""
	}
	return path.Join(t.String(), "date="+date, "symbol="+EncodeSymbol(symbol))
}

// validDate checks the YYYY-MM-DD shape (digits and dashes only), which is
// all a folder name needs to be safe.
func validDate(d string) bool {
	if len(d) != len(DateFormat) {
		return false
	}
	for i := 0; i < len(d); i++ {
		switch i {
		case 4, 7:
			if d[i] != '-' {
				return false
			}
		default:
			if d[i] < '0' || d[i] > '9' {
				return false
			}
		}
	}
	return true
}

// ParsePartitionDir splits a relative partition folder
// ("quotes/date=2026-11-25/symbol=ESZ6") back into its table, date and
// decoded symbol.
func ParsePartitionDir(rel string) (Table, string, string, error) {
	parts := strings.Split(path.Clean(strings.ReplaceAll(rel, "\\", "/")), "/")
	if len(parts) != 3 {
		return 0, "", "", fmt.Errorf("parse partition %q: want table/date=…/symbol=…", rel)
	}
	t, ok := ParseTable(parts[0])
	if !ok {
		return 0, "", "", fmt.Errorf("parse partition %q: unknown table %q", rel, parts[0])
	}
	date, ok := strings.CutPrefix(parts[1], "date=")
	if !ok || !validDate(date) {
		return 0, "", "", fmt.Errorf("parse partition %q: bad date folder %q", rel, parts[1])
	}
	enc, ok := strings.CutPrefix(parts[2], "symbol=")
	if !ok || enc == "" {
		return 0, "", "", fmt.Errorf("parse partition %q: bad symbol folder %q", rel, parts[2])
	}
	sym, err := DecodeSymbol(enc)
	if err != nil {
		return 0, "", "", fmt.Errorf("parse partition %q: %w", rel, err)
	}
	return t, date, sym, nil
}

// MaxEncodedSymbol is the longest encoded symbol that fits a folder name
// ("symbol=" + value) under the common 255-byte file-name limit.
const MaxEncodedSymbol = 255 - len("symbol=")

// CheckSymbol reports whether a symbol can name a partition folder: it
// must be non-empty and its encoding must fit MaxEncodedSymbol bytes.
// Recorders check their configured symbols with it before they start.
func CheckSymbol(s string) error {
	if s == "" {
		return errors.New("symbol: empty")
	}
	if n := len(EncodeSymbol(s)); n > MaxEncodedSymbol {
		return fmt.Errorf("symbol %.20q…: %d bytes once encoded, more than the %d a folder name can hold", s, n, MaxEncodedSymbol)
	}
	return nil
}
