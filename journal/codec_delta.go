package journal

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/mdcap/mdcap/schema"
)

// Quotes and DOM rows — nearly every record — are written against the
// previous row of the same symbol and table in the block: seq, contract
// and connection as differences (0 almost always), and every double as
// the XOR of its bits with the same slot's previous value (the same field
// of the quote, the same level and side of the book). An unchanged value
// is one zero byte; a price one tick away or a small size changes a few
// bits of the top bytes and costs 1–3 bytes. This is cheaper to compute
// than recognising integers and cents (no float conversion, no division:
// a XOR, two bit counts and an 8-byte store per value), and it leaves S2
// long runs of zeros to squeeze. Blocks stay independent: the state
// starts from zero at each block.
//
// A value is a header byte, then its significant bytes:
//
//	0x00                 the same bits as the slot's previous value
//	0xFF                 NULL (list elements only; quotes use a mask)
//	0x80 + k (k < 127)   the integer k (sizes, mostly: one byte instead
//	                     of the 2–4 their XOR takes)
//	z<<4 | n (n = 1..8)  x = XOR with the previous value, x>>(8z) written
//	                     as n little-endian bytes, z+n ≤ 8
//
// The server's timestamp is written as the difference from the symbol's
// previous one, in whole milliseconds and the nanoseconds left over
// (Tradovate's timestamps are milliseconds: two bytes, not the five of
// its distance from recv_ts).
//
// Records of the first format (recQuote, recDOM: integer/cents tags) are
// still read, so a journal left by an older recorder is recovered.
const (
	recQuoteDelta byte = 5 + iota
	recDOMDelta
)

const (
	nullValue = 0xFF
	smallInt  = 0x80 // 0x80+k: the integer k
	maxSmall  = 0x7F // k < maxSmall (0xFF is NULL)
)

// symState is the previous row of a symbol in the block, per table.
type symState struct {
	q          [12]uint64
	d          [4][]uint64
	qSeq, dSeq int64
	qTS, dTS   int64
	qCon, dCon int64
	qConn      int64
	dConn      int64
}

func (s *symState) reset() {
	d := s.d
	*s = symState{}
	for k := range d {
		s.d[k] = d[k][:0]
	}
}

// state returns the block state of the symbol at index i.
func stateAt(st *[]symState, i int) *symState {
	for len(*st) <= i {
		if len(*st) < cap(*st) {
			*st = (*st)[:len(*st)+1]
			(*st)[len(*st)-1].reset()
		} else {
			*st = append(*st, symState{})
		}
	}
	return &(*st)[i]
}

// grow makes room for n more bytes.
func (e *encoder) grow(n int) {
	if cap(e.b)-len(e.b) < n {
		e.b = append(e.b[:cap(e.b)], make([]byte, n)...)[:len(e.b)]
	}
}

// putSmall writes v as 0x80+k when it is a small integer.
func putSmall(b []byte, prev *uint64, v float64) bool {
	x, k := math.Float64bits(v), uint64(v)
	if k >= maxSmall || math.Float64bits(float64(k)) != x {
		return false
	}
	*prev = x
	b[0] = smallInt + byte(k)
	return true
}

// putXor writes v against *prev (which becomes v) into b (9 bytes) and
// returns the bytes used.
func putXor(b []byte, prev *uint64, v float64) int {
	x := math.Float64bits(v)
	x, *prev = x^*prev, x
	// x = 0 (unchanged) gives z = 0, n = 0: the header 0x00 alone.
	z := uint(bits.TrailingZeros64(x)) >> 3 & 7
	x >>= z * 8
	n := (71 - bits.LeadingZeros64(x)) >> 3
	b[0] = byte(z<<4) | byte(n)
	binary.LittleEndian.PutUint64(b[1:9], x)
	return 1 + n
}

// quote writes a quotes row (the tests' way in; the flusher encodes the
// rows the writer copied, quoteRec).
func (e *encoder) quote(sym string, q *schema.Quote) {
	e.b = append(e.b, recQuoteDelta)
	si := e.symbol(sym)
	e.tmp.reset()
	var r rec
	e.tmp.copyQuote(&r, q)
	e.quoteRec(si, &r, e.tmp.floats)
}

// quoteRec writes the body of a quote copied into r (its values in
// floats), for the symbol at block index si.
func (e *encoder) quoteRec(si int, r *rec, floats []float64) {
	s := stateAt(&e.st, si)
	off := e.header(&s.qTS, &s.qCon, &s.qConn, &s.qSeq, r.i[0], r.i[1], r.i[2], r.i[3], r.i[4])
	// The mask of present values (2 bytes, little-endian), then the
	// values, in room header kept for them.
	b := e.b[:cap(e.b)]
	binary.LittleEndian.PutUint16(b[off:], r.mask)
	off += 2
	vals := floats[r.off:]
	for m := r.mask; m != 0; m &= m - 1 {
		k, v := bits.TrailingZeros16(m), vals[0]
		vals = vals[1:]
		if putSmall(b[off:off+9], &s.q[k], v) {
			off++
		} else {
			off += putXor(b[off:off+9], &s.q[k], v)
		}
	}
	e.b = b[:off]
}

// maxHeader bounds what header writes, and the mask and values of a
// quote after it.
const maxHeader = 6*binary.MaxVarintLen64 + 2 + 12*9

// header writes the fields quotes and DOM rows share — recv_ts against
// the block's previous record, the rest against the symbol's previous
// row of the table — into room it makes for a quote's values too, and
// returns the offset after it (e.b keeps its length: the caller sets it).
func (e *encoder) header(prevTS, prevCon, prevConn, prevSeq *int64, recv, ts, con, conn, seq int64) int {
	e.grow(maxHeader)
	b, off := e.b[:cap(e.b)], len(e.b)
	off += binary.PutVarint(b[off:], recv-e.prevRecv)
	d := ts - *prevTS
	off += binary.PutVarint(b[off:], d/1e6)
	off += binary.PutVarint(b[off:], d%1e6)
	off += binary.PutVarint(b[off:], con-*prevCon)
	off += binary.PutVarint(b[off:], conn-*prevConn)
	off += binary.PutVarint(b[off:], seq-*prevSeq)
	e.prevRecv, *prevTS, *prevCon, *prevConn, *prevSeq = recv, ts, con, conn, seq
	return off
}

// dom writes a dom row (the tests' way in; see quote).
func (e *encoder) dom(sym string, d *schema.DOM) {
	e.b = append(e.b, recDOMDelta)
	si := e.symbol(sym)
	e.tmp.reset()
	var r rec
	e.tmp.copyDOM(&r, d)
	e.domRec(si, &r, &e.tmp)
}

// domRec writes the body of a DOM row copied into r (its lists in c),
// for the symbol at block index si.
func (e *encoder) domRec(si int, r *rec, c *chunk) {
	s := stateAt(&e.st, si)
	e.b = e.b[:e.header(&s.dTS, &s.dCon, &s.dConn, &s.dSeq, r.i[0], r.i[1], r.i[2], r.i[3], r.i[4])]
	at, meta := r.off, c.aux[r.aux:r.aux+5]
	nulls := c.aux[r.aux+5 : r.aux+5+meta[4]]
	for k, n := range meta[:4] {
		if n < 0 {
			e.b = append(e.b, 0)
			continue
		}
		nulls = e.xorList(&s.d[k], c.floats[at:at+n], nulls, at)
		at += n
	}
}

// xorList writes a list: length+1 (0 = nil list), then each element
// against the same position of the previous list. The list's values are
// vals, at position base of the chunk's arena; nulls are the arena
// positions of NULL elements from this list on (it returns those after
// it).
func (e *encoder) xorList(prev *[]uint64, vals []float64, nulls []int32, base int32) []int32 {
	e.b = binary.AppendUvarint(e.b, uint64(len(vals))+1)
	for len(*prev) < len(vals) {
		*prev = append(*prev, 0)
	}
	pv := (*prev)[:len(vals)]
	e.grow(9 * len(vals))
	b, off := e.b[:cap(e.b)], len(e.b)
	for k, v := range vals {
		if len(nulls) > 0 && nulls[0] == base+int32(k) {
			nulls = nulls[1:]
			b[off] = nullValue
			off++
			continue
		}
		if putSmall(b[off:off+9], &pv[k], v) {
			off++
		} else {
			off += putXor(b[off:off+9], &pv[k], v)
		}
	}
	e.b = b[:off]
	return nulls
}

// ts reads a timestamp written by encoder.ts.
func (d *decoder) ts(prev *int64) int64 {
	ms := d.varint()
	*prev += ms*1e6 + d.varint()
	return *prev
}

// xor reads a value written by encoder.xor against *prev.
func (d *decoder) xor(prev *uint64, h byte) float64 {
	if h >= smallInt && h != nullValue {
		v := float64(h - smallInt)
		*prev = math.Float64bits(v)
		return v
	}
	if h != 0 {
		z, n := uint(h>>4), int(h&15)
		if n == 0 || n > 8 || int(z)+n > 8 || len(d.b) < n {
			d.fail()
			return 0
		}
		var x uint64
		if len(d.b) >= 8 {
			x = binary.LittleEndian.Uint64(d.b) & (^uint64(0) >> (64 - 8*n))
		} else {
			for i := n - 1; i >= 0; i-- {
				x = x<<8 | uint64(d.b[i])
			}
		}
		d.b = d.b[n:]
		*prev ^= x << (8 * z)
	}
	return math.Float64frombits(*prev)
}

func (d *decoder) quoteDelta(s *symState) *schema.Quote {
	q := &schema.Quote{RecvTS: d.recv()}
	q.TS = d.ts(&s.qTS)
	s.qCon += d.varint()
	s.qConn += d.varint()
	s.qSeq += d.varint()
	q.ContractID, q.ConnID, q.Seq = s.qCon, s.qConn, s.qSeq
	if len(d.b) < 2 {
		d.fail()
		return q
	}
	mask := binary.LittleEndian.Uint16(d.b)
	d.b = d.b[2:]
	if mask>>12 != 0 {
		d.fail()
		return q
	}
	ps := [12]**float64{&q.BidPrice, &q.BidSize, &q.AskPrice, &q.AskSize, &q.TradePrice, &q.TradeSize,
		&q.TotalVolume, &q.OpenInterest, &q.OpenPrice, &q.HighPrice, &q.LowPrice, &q.SettlementPrice}
	for k, p := range ps {
		if mask&(1<<k) != 0 {
			v := d.xor(&s.q[k], d.byte())
			*p = &v
		}
	}
	return q
}

func (d *decoder) domDelta(s *symState) *schema.DOM {
	m := &schema.DOM{RecvTS: d.recv()}
	m.TS = d.ts(&s.dTS)
	s.dCon += d.varint()
	s.dConn += d.varint()
	s.dSeq += d.varint()
	m.ContractID, m.ConnID, m.Seq = s.dCon, s.dConn, s.dSeq
	m.BidPrices = d.xorList(&s.d[0])
	m.BidSizes = d.xorList(&s.d[1])
	m.AskPrices = d.xorList(&s.d[2])
	m.AskSizes = d.xorList(&s.d[3])
	return m
}

func (d *decoder) xorList(prev *[]uint64) []*float64 {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > uint64(len(d.b)) { // every element takes at least a byte
		d.fail()
		return nil
	}
	for uint64(len(*prev)) < n {
		*prev = append(*prev, 0)
	}
	pv := (*prev)[:n]
	l := make([]*float64, n)
	vals := make([]float64, n) // one allocation for the values
	for k := range l {
		h := d.byte()
		if d.err != nil {
			return nil
		}
		if h == nullValue {
			continue
		}
		vals[k] = d.xor(&pv[k], h)
		l[k] = &vals[k]
	}
	return l
}
