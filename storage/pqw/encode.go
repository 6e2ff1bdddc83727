package pqw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/bytestreamsplit"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/plain"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// DefaultPageLevels is the number of entries (levels) after which a
// column's data page is cut, at the next row boundary: 8192 doubles or
// int64s are 64 KiB before encoding, the page size parquet-go used here.
const DefaultPageLevels = 8192

// maxStatBytes bounds the length of a string statistic: longer minimums
// or maximums are left out rather than truncated.
const maxStatBytes = 64

// Compressor is the zstd encoder pages are compressed with: one for many
// writers (its EncodeAll is safe for concurrent use).
type Compressor struct{ z *zstd.Encoder }

// NewCompressor returns a zstd compressor at the fastest level, with the
// options parquet-go's codec uses (no checksum; an empty input still makes
// a frame). concurrency bounds the encoders used at once.
func NewCompressor(concurrency int) (*Compressor, error) {
	z, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(max(concurrency, 1)),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false),
	)
	if err != nil {
		return nil, fmt.Errorf("pqw: new zstd encoder: %w", err)
	}
	return &Compressor{z: z}, nil
}

// Encoder turns buffered columns into the bytes of a row group. It keeps
// scratch buffers between calls, so it is not safe for concurrent use;
// use one per goroutine.
type Encoder struct {
	comp       *Compressor
	pageLevels int
	out        bytes.Buffer
	th         *thrift.Encoder
	rep, def   []byte
	vals, zbuf []byte
	hdr        format.PageHeader
}

// NewEncoder returns an encoder that compresses with comp and cuts pages
// after pageLevels entries (0: DefaultPageLevels).
func NewEncoder(comp *Compressor, pageLevels int) *Encoder {
	if pageLevels <= 0 {
		pageLevels = DefaultPageLevels
	}
	e := &Encoder{comp: comp, pageLevels: pageLevels}
	e.th = thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&e.out))
	return e
}

// rowGroup encodes the columns' buffered rows (rows of them) as one row
// group: the pages of each column in schema order, in e.out. The offsets
// in the returned metadata are relative to the start of e.out. It reads
// the columns and nothing else: it can run on any goroutine that owns e
// while nobody appends to the columns.
func (e *Encoder) rowGroup(cols []column, rows int) (format.RowGroup, error) {
	e.out.Reset()
	rg := format.RowGroup{
		Columns: make([]format.ColumnChunk, len(cols)),
		NumRows: int64(rows),
	}
	for i := range cols {
		c := &cols[i]
		cc := &rg.Columns[i]
		start := int64(e.out.Len())
		var uncompressed int64
		la, va := 0, 0
		for la < c.n {
			lb, vb, nrows := c.page(la, va, e.pageLevels)
			u, err := e.page(c, la, lb, va, vb, nrows)
			if err != nil {
				return rg, fmt.Errorf("pqw: encode column %v: %w", c.leaf.path, err)
			}
			uncompressed += u
			la, va = lb, vb
		}
		written := int64(e.out.Len()) - start
		cc.MetaData = format.ColumnMetaData{
			Type:                  c.leaf.typ,
			Encoding:              c.leaf.encs,
			PathInSchema:          c.leaf.path,
			Codec:                 format.Zstd,
			NumValues:             int64(c.n),
			TotalUncompressedSize: uncompressed,
			TotalCompressedSize:   written,
			DataPageOffset:        start,
			Statistics:            c.stats(),
		}
		rg.TotalByteSize += uncompressed
		rg.TotalCompressedSize += written
	}
	return rg, nil
}

// page returns where the page starting at entry la (value va) ends: at
// least limit entries, cut at a row boundary, and the rows it holds.
func (c *column) page(la, va, limit int) (lb, vb, rows int) {
	if c.leaf.maxRep == 0 {
		lb = min(la+limit, c.n)
		rows = lb - la
	} else {
		lb = min(la+limit, c.n)
		for lb < c.n && c.rep[lb] != 0 {
			lb++
		}
		for _, r := range c.rep[la:lb] {
			if r == 0 {
				rows++
			}
		}
	}
	if c.leaf.maxDef == 0 {
		return lb, va + (lb - la), rows
	}
	vb = va
	for _, d := range c.def[la:lb] {
		if d == c.leaf.maxDef {
			vb++
		}
	}
	return lb, vb, rows
}

// page appends one V2 data page of entries [la, lb) and values [va, vb)
// to e.out and returns its uncompressed size (header included).
func (e *Encoder) page(c *column, la, lb, va, vb, rows int) (int64, error) {
	e.rep, e.def = e.rep[:0], e.def[:0]
	var err error
	if c.leaf.maxRep > 0 {
		enc := rle.Encoding{BitWidth: bitWidth(c.leaf.maxRep)}
		if e.rep, err = enc.EncodeLevels(e.rep, c.rep[la:lb]); err != nil {
			return 0, err
		}
	}
	if c.leaf.maxDef > 0 {
		enc := rle.Encoding{BitWidth: bitWidth(c.leaf.maxDef)}
		if e.def, err = enc.EncodeLevels(e.def, c.def[la:lb]); err != nil {
			return 0, err
		}
	}
	switch c.leaf.typ {
	case format.Int64:
		if c.leaf.enc == format.DeltaBinaryPacked {
			e.vals, err = new(delta.BinaryPackedEncoding).EncodeInt64(e.vals, c.i64[va:vb])
		} else {
			e.vals, err = new(plain.Encoding).EncodeInt64(e.vals, c.i64[va:vb])
		}
	case format.Double:
		if c.leaf.enc == format.ByteStreamSplit {
			e.vals, err = new(bytestreamsplit.Encoding).EncodeDouble(e.vals, c.f64[va:vb])
		} else {
			e.vals, err = new(plain.Encoding).EncodeDouble(e.vals, c.f64[va:vb])
		}
	case format.ByteArray:
		if vb > va {
			e.vals, err = new(plain.Encoding).EncodeByteArray(e.vals, c.str, c.offs[va:vb+1])
		} else {
			e.vals = e.vals[:0]
		}
	}
	if err != nil {
		return 0, err
	}
	e.zbuf = e.comp.z.EncodeAll(e.vals, e.zbuf[:0])
	levels := len(e.rep) + len(e.def)
	e.hdr = format.PageHeader{
		Type:                 format.DataPageV2,
		UncompressedPageSize: int32(levels + len(e.vals)),
		CompressedPageSize:   int32(levels + len(e.zbuf)),
		DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{
			NumValues:                  int32(lb - la),
			NumNulls:                   int32((lb - la) - (vb - va)),
			NumRows:                    int32(rows),
			Encoding:                   c.leaf.enc,
			DefinitionLevelsByteLength: int32(len(e.def)),
			RepetitionLevelsByteLength: int32(len(e.rep)),
			IsCompressed:               thrift.New(true),
		}),
	}
	start := e.out.Len()
	if err := e.th.Encode(&e.hdr); err != nil {
		return 0, fmt.Errorf("encode page header: %w", err)
	}
	header := e.out.Len() - start
	e.out.Write(e.rep)
	e.out.Write(e.def)
	e.out.Write(e.zbuf)
	return int64(header + levels + len(e.vals)), nil
}

// stats are the column chunk's statistics: the NULL count, and the
// minimum and maximum of the non-NULL values in the type's order (NaN
// ignored; none when no value qualifies).
func (c *column) stats() format.Statistics {
	st := format.Statistics{NullCount: int64(c.n - c.values())}
	switch c.leaf.typ {
	case format.Int64:
		if len(c.i64) == 0 {
			break
		}
		lo, hi := c.i64[0], c.i64[0]
		for _, v := range c.i64[1:] {
			lo, hi = min(lo, v), max(hi, v)
		}
		st.MinValue = binary.LittleEndian.AppendUint64(nil, uint64(lo))
		st.MaxValue = binary.LittleEndian.AppendUint64(nil, uint64(hi))
	case format.Double:
		lo, hi := math.Inf(1), math.Inf(-1)
		seen := false
		for _, v := range c.f64 {
			if v != v {
				continue
			}
			seen = true
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
		if !seen {
			break
		}
		// The format's rule for signed zeros: a zero minimum is written
		// -0, a zero maximum +0, so either zero in the data is inside.
		if lo == 0 {
			lo = math.Copysign(0, -1)
		}
		if hi == 0 {
			hi = 0
		}
		st.MinValue = binary.LittleEndian.AppendUint64(nil, math.Float64bits(lo))
		st.MaxValue = binary.LittleEndian.AppendUint64(nil, math.Float64bits(hi))
	case format.ByteArray:
		n := c.values()
		if n == 0 {
			break
		}
		lo, hi := c.str[c.offs[0]:c.offs[1]], c.str[c.offs[0]:c.offs[1]]
		for i := 1; i < n; i++ {
			v := c.str[c.offs[i]:c.offs[i+1]]
			if bytes.Compare(v, lo) < 0 {
				lo = v
			}
			if bytes.Compare(v, hi) > 0 {
				hi = v
			}
		}
		// An empty minimum could not be told from a missing one.
		if len(lo) > 0 && len(lo) <= maxStatBytes && len(hi) <= maxStatBytes {
			st.MinValue = bytes.Clone(lo)
			st.MaxValue = bytes.Clone(hi)
		}
	}
	return st
}
