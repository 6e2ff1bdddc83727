package feed

import (
	"encoding/binary"
	"math/bits"
)

// scanner is a minimal JSON tokenizer for the decoder's hot path: it walks
// a document in place, never builds a tree, never allocates, and skips
// whatever it is not asked about. Every method reports failure instead of
// panicking on malformed input.
type scanner struct {
	b     []byte
	i     int
	depth int
}

const maxDepth = 64

func (s *scanner) reset(b []byte) { s.b, s.i, s.depth = b, 0, 0 }

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// eat consumes c if it is the next non-space byte.
func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// strStop marks the bytes that end the fast scan of a string: the quote,
// the backslash and control characters. Read-only.
var strStop = [256]bool{
	0: true, 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true,
	11: true, 12: true, 13: true, 14: true, 15: true, 16: true, 17: true, 18: true, 19: true, 20: true,
	21: true, 22: true, 23: true, 24: true, 25: true, 26: true, 27: true, 28: true, 29: true, 30: true, 31: true,
	'"': true, '\\': true,
}

// str reads a string and returns its raw content (escapes not decoded).
// It scans eight bytes at a time for the closing quote, a backslash or a
// control character.
func (s *scanner) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		if !s.eat('"') {
			return nil, false
		}
	} else {
		s.i++
	}
	b := s.b
	start := s.i
	i := start
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if x := stopBytes(w); x != 0 {
				i += bits.TrailingZeros64(x) / 8
				break
			}
			i += 8
		}
		for i < len(b) && !strStop[b[i]] {
			i++
		}
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return b[start:i], true
		case '\\':
			i += 2
		default:
			return nil, false
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// stopBytes flags (high bit of the byte) the bytes of w that are '"',
// '\\' or below 0x20; the lowest flag is exact.
func stopBytes(w uint64) uint64 {
	q := w ^ (lsb * '"')
	bs := w ^ (lsb * '\\')
	return ((q-lsb)&^q | (bs-lsb)&^bs | (w-lsb*0x20)&^w) & msb
}

// nextKey advances to the next key of an object whose '{' was consumed.
// It returns the key, or end=true after the closing '}'; ok=false on a
// syntax error. first must start true for each object.
func (s *scanner) nextKey(first *bool) (key []byte, end, ok bool) {
	c := s.peek()
	if *first {
		*first = false
		if c == '}' {
			s.i++
			return nil, true, true
		}
	} else {
		switch c {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil, true, true
		default:
			return nil, false, false
		}
	}
	// Fast path: a compact `"key":` of plain characters.
	b := s.b
	if j := s.i; j < len(b) && b[j] == '"' {
		k := j + 1
		for k < len(b) && b[k] >= 0x20 && b[k] != '"' && b[k] != '\\' {
			k++
		}
		if k+1 < len(b) && b[k] == '"' && b[k+1] == ':' {
			s.i = k + 2
			return b[j+1 : k], false, true
		}
	}
	key, ok = s.str()
	if !ok || !s.eat(':') {
		return nil, false, false
	}
	return key, false, true
}

// open consumes '{' and counts nesting; close must follow when done.
func (s *scanner) open() bool {
	if s.depth >= maxDepth || !s.eat('{') {
		return false
	}
	s.depth++
	return true
}

// numberToken reads the raw text of a JSON number.
func (s *scanner) numberToken() ([]byte, bool) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	return s.b[start:s.i], s.i > start
}

// literal consumes a bare word (true, false, null).
func (s *scanner) literal(w string) bool {
	s.ws()
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// null consumes `null` if it is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	return false
}

// float reads a number (null reports present=false).
func (s *scanner) float() (v float64, present, ok bool) {
	c := s.peek()
	if c == 'n' {
		return 0, false, s.literal("null")
	}
	if v, end, ok := fastDecimal(s.b, s.i); ok {
		s.i = end
		return v, true, true
	}
	tok, ok := s.numberToken()
	if !ok {
		return 0, false, false
	}
	v, ok = parseNumber(tok)
	return v, ok, ok
}

// int reads an integral number.
func (s *scanner) int() (int64, bool) {
	tok, ok := s.numberToken()
	if !ok {
		return 0, false
	}
	var n int64
	neg := false
	t := tok
	if t[0] == '-' {
		neg, t = true, t[1:]
	}
	if len(t) == 0 || len(t) > 18 || (t[0] == '0' && len(t) > 1) {
		return intFromFloat(tok)
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return intFromFloat(tok)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func intFromFloat(tok []byte) (int64, bool) {
	f, ok := parseNumber(tok)
	if !ok || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// skip consumes any one value.
func (s *scanner) skip() bool {
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{':
		return s.skipContainer('{', '}', true)
	case '[':
		return s.skipContainer('[', ']', false)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case 0:
		return false
	}
	tok, ok := s.numberToken()
	if !ok {
		return false
	}
	_, ok = parseNumber(tok)
	return ok
}

func (s *scanner) skipContainer(open, close byte, object bool) bool {
	if s.depth >= maxDepth {
		return false
	}
	s.depth++
	defer func() { s.depth-- }()
	s.i++ // open
	if s.eat(close) {
		return true
	}
	for {
		if object {
			if _, ok := s.str(); !ok || !s.eat(':') {
				return false
			}
		}
		if !s.skip() {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat(close)
	}
}

// object walks an object, calling field for each key with the scanner
// positioned at the value; field must consume the value.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.depth >= maxDepth {
		return false
	}
	s.depth++
	defer func() { s.depth-- }()
	if s.eat('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok || !s.eat(':') || !field(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array walks an array, calling elem with the scanner at each element;
// elem must consume it.
func (s *scanner) array(elem func() bool) bool {
	if !s.eat('[') {
		return false
	}
	if s.depth >= maxDepth {
		return false
	}
	s.depth++
	defer func() { s.depth-- }()
	if s.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}
