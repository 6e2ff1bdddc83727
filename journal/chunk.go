package journal

import (
	"slices"

	"github.com/mdcap/mdcap/schema"
)

// The writer goroutine's share of journaling is a copy: each row goes
// into the next record of a chunk, a fixed layout without pointers (its
// values, which of them are present, the symbol's index), DOM levels
// into the chunk's flat arena. A full chunk goes to the flusher, which
// runs the codec over it (codec_delta.go) and frames, writes and fsyncs
// the blocks it makes (flusher.go); the writer takes an empty chunk back.
// Copying a row costs the writer a few stores, the encoding (XOR against
// the symbol's previous row, variable-length values) runs on the other
// core, and the bytes on disk are those the writer used to encode itself.

// Chunk bounds: the writer hands a chunk over once it holds chunkRecs
// records or chunkFloats DOM values (a deeper book still fits: the arena
// grows for it and shrinks back to this at the next reset).
const (
	chunkRecs   = 2048
	chunkFloats = 32 << 10
)

// rec is one row copied into a chunk (56 bytes: a quote's record and its
// values take two cache lines, not the three of a record with room for
// every value — lines the writer takes back from the flusher's core).
// Which fields hold what depends on kind:
//
//	quote  i: recv_ts, ts, contract, conn, seq; mask: which of the 12
//	       values (schema.Quote order) are present, floats[off:] the
//	       present ones in that order
//	dom    i: as a quote's; the lists at floats[off:]; aux[aux:] their
//	       lengths (-1: nil list), the number of NULL elements, then
//	       their positions in floats (ascending)
//	tick   i: recv_ts, ts, contract, conn, tick id; floats[off:] price,
//	       size, then the present ones of bid, ask, bid size, ask size
//	       (mask); strs[aux] is the source
//	event  i: recv_ts, conn, gap start, gap end; mask: 1 gap start, 2
//	       gap end; strs[aux:aux+4]: run id, kind, reason, detail
type rec struct {
	kind byte
	mask uint16
	sym  int32 // index in the journal's symbol table (symTable)
	i    [5]int64
	off  int32
	aux  int32
}

// chunk is the rows the writer copied since its last hand-over.
type chunk struct {
	recs   []rec
	floats []float64 // values: quotes' present ones, DOM lists, ticks'
	aux    []int32   // DOM list lengths and NULL positions
	strs   []string  // ticks' and events' strings
	blob   []byte    // page records (page.go): rec.off to rec.aux
	// syms are the symbols first seen in this chunk: they take the
	// symbol table's next indices, in this order.
	syms []string
	// low is the MarkLow of the chunk's first row (0: none): every row of
	// the chunk went to a dataset file numbered at least low.
	low uint64
}

func newChunk() *chunk {
	return &chunk{recs: make([]rec, 0, chunkRecs), floats: make([]float64, 0, chunkFloats+1024),
		aux: make([]int32, 0, 1024)}
}

// reset empties the chunk for the writer to fill again.
func (c *chunk) reset() {
	c.recs = c.recs[:0]
	if cap(c.floats) > 2*chunkFloats {
		c.floats = make([]float64, 0, chunkFloats+1024)
	}
	c.floats = c.floats[:0]
	c.aux = c.aux[:0]
	clear(c.strs)
	c.strs = c.strs[:0]
	if cap(c.blob) > 4*chunkBlob {
		c.blob = nil
	}
	c.blob = c.blob[:0]
	clear(c.syms)
	c.syms = c.syms[:0]
	c.low = 0
}

// full reports whether the chunk is to be handed over.
func (c *chunk) full() bool {
	return len(c.recs) >= chunkRecs || len(c.floats) >= chunkFloats || len(c.blob) >= chunkBlob
}

// next returns the chunk's next record, its fields not cleared: the copy
// functions set every field its kind uses.
func (c *chunk) next() *rec {
	n := len(c.recs)
	if n < cap(c.recs) {
		c.recs = c.recs[:n+1]
	} else {
		c.recs = append(c.recs, rec{})
	}
	return &c.recs[n]
}

// room returns the floats arena with room for n more values.
func (c *chunk) room(n int) []float64 {
	if cap(c.floats)-len(c.floats) < n {
		c.floats = slices.Grow(c.floats, n)
	}
	return c.floats[:cap(c.floats)]
}

func (c *chunk) copyQuote(r *rec, q *schema.Quote) {
	r.kind = recQuoteDelta
	r.i = [5]int64{q.RecvTS, q.TS, q.ContractID, q.ConnID, q.Seq}
	f, n := c.room(12), len(c.floats)
	r.off = int32(n)
	// Written out, not a loop over an array of the 12 pointers: the
	// array would be 12 more stores per row.
	var mask uint16
	if p := q.BidPrice; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<0
	}
	if p := q.BidSize; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<1
	}
	if p := q.AskPrice; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<2
	}
	if p := q.AskSize; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<3
	}
	if p := q.TradePrice; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<4
	}
	if p := q.TradeSize; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<5
	}
	if p := q.TotalVolume; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<6
	}
	if p := q.OpenInterest; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<7
	}
	if p := q.OpenPrice; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<8
	}
	if p := q.HighPrice; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<9
	}
	if p := q.LowPrice; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<10
	}
	if p := q.SettlementPrice; p != nil {
		f[n], n, mask = *p, n+1, mask|1<<11
	}
	r.mask = mask
	c.floats = f[:n]
}

func (c *chunk) copyDOM(r *rec, d *schema.DOM) {
	r.kind = recDOMDelta
	r.i = [5]int64{d.RecvTS, d.TS, d.ContractID, d.ConnID, d.Seq}
	r.off, r.aux = int32(len(c.floats)), int32(len(c.aux))
	c.aux = append(c.aux, -1, -1, -1, -1, 0)
	for k, l := range [4][]*float64{d.BidPrices, d.BidSizes, d.AskPrices, d.AskSizes} {
		if l == nil {
			continue
		}
		c.aux[int(r.aux)+k] = int32(len(l)) // (not through a slice kept: the appends below may move aux)
		f, n := c.room(len(l)), len(c.floats)
		for x, p := range l {
			if p == nil {
				f[n+x] = 0
				c.aux = append(c.aux, int32(n+x))
				continue
			}
			f[n+x] = *p
		}
		c.floats = f[:n+len(l)]
	}
	c.aux[r.aux+4] = int32(len(c.aux)) - r.aux - 5
}

func (c *chunk) copyTick(r *rec, t *schema.Tick) {
	r.kind = recTick
	r.i = [5]int64{t.RecvTS, t.TS, t.ContractID, t.ConnID, t.TickID}
	r.off = int32(len(c.floats))
	c.floats = append(c.floats, t.Price, t.Size)
	r.mask = 0
	for k, p := range [4]*float64{t.BidPrice, t.AskPrice, t.BidSize, t.AskSize} {
		if p != nil {
			r.mask |= 1 << k
			c.floats = append(c.floats, *p)
		}
	}
	r.aux = int32(len(c.strs))
	c.strs = append(c.strs, t.Source)
}

func (c *chunk) copyEvent(r *rec, ev *schema.Event) {
	r.kind = recEvent
	r.i = [5]int64{ev.RecvTS, ev.ConnID}
	r.mask = 0
	if ev.GapStart != nil {
		r.mask |= 1
		r.i[2] = *ev.GapStart
	}
	if ev.GapEnd != nil {
		r.mask |= 2
		r.i[3] = *ev.GapEnd
	}
	r.aux = int32(len(c.strs))
	c.strs = append(c.strs, ev.RunID, ev.Kind, ev.Reason, ev.Detail)
}

// symTable numbers the symbols of a journal's rows for the writer: a
// record names its symbol by index, and a chunk carries the symbols new
// in it (chunk.syms) so that the flusher keeps the same table.
type symTable struct {
	names []string
	idx   map[string]int32 // when names is long
	last  int32
}

// index returns the symbol's index, adding it to the table and to c's
// new symbols when it is new.
func (t *symTable) index(s string, c *chunk) int32 {
	if int(t.last) < len(t.names) && t.names[t.last] == s {
		return t.last
	}
	i := int32(-1)
	if t.idx != nil {
		if k, ok := t.idx[s]; ok {
			i = k
		}
	} else {
		for k, x := range t.names {
			if x == s {
				i = int32(k)
				break
			}
		}
	}
	if i < 0 {
		i = int32(len(t.names))
		t.names = append(t.names, s)
		c.syms = append(c.syms, s)
		if t.idx == nil && len(t.names) > 16 {
			t.idx = make(map[string]int32, 64)
			for k, x := range t.names {
				t.idx[x] = int32(k)
			}
		} else if t.idx != nil {
			t.idx[s] = i
		}
	}
	t.last = i
	return i
}
