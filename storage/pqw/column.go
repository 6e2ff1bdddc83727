package pqw

import (
	"slices"

	"github.com/parquet-go/parquet-go/format"
)

// column holds one leaf column's rows not yet written: the rows of the
// page being filled as typed values (the non-NULL values densely, and a
// definition and repetition level per entry when the column is optional
// or repeated; only the value slice of the column's physical type is
// used), and the pages already encoded for the open row group with their
// running statistics.
//
// The fields an Append touches come first, so that they share cache lines.
type column struct {
	n    int // entries (levels) of the page being filled
	def  []uint8
	i64  []int64
	f64  []float64
	rep  []uint8
	str  []byte   // BYTE_ARRAY values, concatenated
	offs []uint32 // offs[i], offs[i+1]: bounds of value i in str; offs[0] = 0
	leaf *leaf

	chunk chunk
}

// chunk is the encoded part of a column's open row group.
type chunk struct {
	pages        []byte // page headers and pages, in order
	levels       int64  // entries in the pages
	uncompressed int64  // the pages' size before compression, headers included
	st           colStats
}

// colStats accumulates a column chunk's statistics page by page.
type colStats struct {
	nulls  int64
	has    bool // a non-NULL (non-NaN for doubles) value was seen
	lo, hi int64
	flo    float64
	fhi    float64
	slo    []byte // copies
	shi    []byte
}

// values is the number of non-NULL values of the page being filled.
func (c *column) values() int {
	switch c.leaf.typ {
	case format.Int64:
		return len(c.i64)
	case format.Double:
		return len(c.f64)
	}
	return max(len(c.offs)-1, 0)
}

// truncate forgets the page being filled and keeps the memory.
func (c *column) truncate() {
	c.i64, c.f64, c.str = c.i64[:0], c.f64[:0], c.str[:0]
	c.def, c.rep = c.def[:0], c.rep[:0]
	if len(c.offs) > 0 {
		c.offs = c.offs[:1]
	}
	c.n = 0
}

// resetChunk forgets the open row group's pages and keeps the memory.
func (c *column) resetChunk() {
	c.chunk = chunk{pages: c.chunk.pages[:0], st: colStats{slo: c.chunk.st.slo[:0], shi: c.chunk.st.shi[:0]}}
}

// release forgets everything buffered and the memory.
func (c *column) release() {
	c.i64, c.f64, c.str, c.offs, c.def, c.rep = nil, nil, nil, nil, nil, nil
	c.n = 0
	c.chunk = chunk{}
}

// releasePage forgets the page being filled and its memory.
func (c *column) releasePage() {
	c.i64, c.f64, c.str, c.offs, c.def, c.rep = nil, nil, nil, nil, nil, nil
	c.n = 0
}

// capBytes is the memory the column's buffers hold.
func (c *column) capBytes() int { return c.pageCap() + c.chunkCap() }

// pageCap is the memory of the buffers of the page being filled.
func (c *column) pageCap() int {
	return 8*cap(c.i64) + 8*cap(c.f64) + cap(c.str) + 4*cap(c.offs) + cap(c.def) + cap(c.rep)
}

// chunkCap is the memory of the open row group's encoded pages and
// statistics.
func (c *column) chunkCap() int {
	return cap(c.chunk.pages) + cap(c.chunk.st.slo) + cap(c.chunk.st.shi)
}

func (c *column) int64(v int64) {
	c.i64 = append(c.i64, v)
	c.n++
}

func (c *column) optInt64(p *int64) int {
	c.n++
	if p == nil {
		c.def = append(c.def, 0)
		return 1
	}
	c.def = append(c.def, 1)
	c.i64 = append(c.i64, *p)
	return 9
}

func (c *column) double(v float64) {
	c.f64 = append(c.f64, v)
	c.n++
}

func (c *column) optDouble(p *float64) int {
	c.n++
	if p == nil {
		c.def = append(c.def, 0)
		return 1
	}
	c.def = append(c.def, 1)
	c.f64 = append(c.f64, *p)
	return 9
}

func (c *column) bytes(s string) int {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	c.str = append(c.str, s...)
	c.offs = append(c.offs, uint32(len(c.str)))
	c.n++
	return len(s) + 4
}

// list appends one row of a LIST of optional doubles (maximum definition
// level 2, repetition level 1): an empty list is one entry at definition
// level 0, a NULL element an entry at 1, a value an entry at 2. The
// buffers grow once per list, and the loop writes into them by index.
func (c *column) list(src []*float64) int {
	n := len(src)
	if n == 0 {
		c.def = append(c.def, 0)
		c.rep = append(c.rep, 0)
		c.n++
		return 2
	}
	l := len(c.def)
	c.def = slices.Grow(c.def, n)[:l+n]
	c.rep = slices.Grow(c.rep, n)[:l+n]
	def, rep := c.def[l:l+n:l+n], c.rep[l:l+n:l+n]
	rep[0] = 0
	for i := 1; i < n; i++ {
		rep[i] = 1
	}
	k0 := len(c.f64)
	vals := slices.Grow(c.f64, n)[:k0+n]
	k := k0
	for i, p := range src {
		if p == nil {
			def[i] = 1
			continue
		}
		def[i] = 2
		vals[k] = *p
		k++
	}
	c.f64 = vals[:k]
	c.n += n
	return 2*n + 8*(k-k0)
}
