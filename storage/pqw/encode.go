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

// DefaultPageRows is the most rows a page holds; a page is also cut once
// a writer's page being filled reaches DefaultPageBytes over all its
// columns. 8192 quote rows are 64 KiB per column before encoding, the
// page size parquet-go used here; a 10-level DOM page is cut near 2400
// rows (its list columns' pages near 24000 values).
const DefaultPageRows = 8192

// DefaultPageBytes bounds the raw bytes a writer holds for the page being
// filled, over all its columns: past it, every column's page is encoded
// and compressed into the open row group.
const DefaultPageBytes = 1 << 20

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

// Encoder turns the rows columns buffer into encoded, compressed pages.
// It keeps scratch buffers between calls, so it is not safe for
// concurrent use; use one per goroutine.
type Encoder struct {
	comp     *Compressor
	pageRows int
	hbuf     bytes.Buffer
	th       *thrift.Encoder
	rep, def []byte
	vals     []byte
	zbuf     []byte
	hdr      format.PageHeader
}

// NewEncoder returns an encoder that compresses with comp; a page holds
// at most pageRows rows (0: DefaultPageRows; at most MaxPageRows).
func NewEncoder(comp *Compressor, pageRows int) *Encoder {
	if pageRows <= 0 {
		pageRows = DefaultPageRows
	}
	pageRows = min(pageRows, MaxPageRows)
	e := &Encoder{comp: comp, pageRows: pageRows}
	e.th = thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&e.hbuf))
	return e
}

// page encodes the entries a column buffers (rows of them) as one V2 data
// page appended to the column's open chunk, folds them into the chunk's
// statistics and forgets them. It touches the column and e only, so it
// can run on any goroutine that owns both.
func (e *Encoder) page(c *column, rows int) error {
	if c.n == 0 {
		return nil
	}
	vals := c.values()
	e.rep, e.def = e.rep[:0], e.def[:0]
	var err error
	if c.leaf.maxRep > 0 {
		enc := rle.Encoding{BitWidth: bitWidth(c.leaf.maxRep)}
		if e.rep, err = enc.EncodeLevels(e.rep, c.rep); err != nil {
			return err
		}
	}
	if c.leaf.maxDef > 0 {
		enc := rle.Encoding{BitWidth: bitWidth(c.leaf.maxDef)}
		if e.def, err = enc.EncodeLevels(e.def, c.def); err != nil {
			return err
		}
	}
	switch c.leaf.typ {
	case format.Int64:
		if c.leaf.enc == format.DeltaBinaryPacked {
			e.vals, err = new(delta.BinaryPackedEncoding).EncodeInt64(e.vals, c.i64)
		} else {
			e.vals, err = new(plain.Encoding).EncodeInt64(e.vals, c.i64)
		}
	case format.Double:
		if c.leaf.enc == format.ByteStreamSplit {
			e.vals, err = new(bytestreamsplit.Encoding).EncodeDouble(e.vals, c.f64)
		} else {
			e.vals, err = new(plain.Encoding).EncodeDouble(e.vals, c.f64)
		}
	case format.ByteArray:
		if vals > 0 {
			e.vals, err = new(plain.Encoding).EncodeByteArray(e.vals, c.str, c.offs)
		} else {
			e.vals = e.vals[:0]
		}
	}
	if err != nil {
		return err
	}
	e.zbuf = e.comp.z.EncodeAll(e.vals, e.zbuf[:0])
	levels := len(e.rep) + len(e.def)
	e.hdr = format.PageHeader{
		Type:                 format.DataPageV2,
		UncompressedPageSize: int32(levels + len(e.vals)),
		CompressedPageSize:   int32(levels + len(e.zbuf)),
		DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{
			NumValues:                  int32(c.n),
			NumNulls:                   int32(c.n - vals),
			NumRows:                    int32(rows),
			Encoding:                   c.leaf.enc,
			DefinitionLevelsByteLength: int32(len(e.def)),
			RepetitionLevelsByteLength: int32(len(e.rep)),
			IsCompressed:               thrift.New(true),
		}),
	}
	e.hbuf.Reset()
	if err := e.th.Encode(&e.hdr); err != nil {
		return fmt.Errorf("encode page header: %w", err)
	}
	ch := &c.chunk
	ch.pages = append(ch.pages, e.hbuf.Bytes()...)
	ch.pages = append(ch.pages, e.rep...)
	ch.pages = append(ch.pages, e.def...)
	ch.pages = append(ch.pages, e.zbuf...)
	ch.uncompressed += int64(e.hbuf.Len() + levels + len(e.vals))
	ch.levels += int64(c.n)
	c.fold()
	c.truncate()
	return nil
}

// rowGroup returns the metadata of the row group the columns' chunks
// make (rows of them), written one after the other from offset base.
func rowGroup(cols []column, rows int, base int64) format.RowGroup {
	rg := format.RowGroup{
		Columns:    make([]format.ColumnChunk, len(cols)),
		NumRows:    int64(rows),
		FileOffset: base,
	}
	off := base
	for i := range cols {
		c := &cols[i]
		size := int64(len(c.chunk.pages))
		rg.Columns[i].MetaData = format.ColumnMetaData{
			Type:                  c.leaf.typ,
			Encoding:              c.leaf.encs,
			PathInSchema:          c.leaf.path,
			Codec:                 format.Zstd,
			NumValues:             c.chunk.levels,
			TotalUncompressedSize: c.chunk.uncompressed,
			TotalCompressedSize:   size,
			DataPageOffset:        off,
			Statistics:            c.chunk.st.statistics(c.leaf.typ),
		}
		off += size
		rg.TotalByteSize += c.chunk.uncompressed
		rg.TotalCompressedSize += size
	}
	return rg
}

// fold adds the page being filled to the chunk's statistics: the NULL
// count, and the minimum and maximum of the non-NULL values in the type's
// order (NaN ignored).
func (c *column) fold() {
	st := &c.chunk.st
	st.nulls += int64(c.n - c.values())
	switch c.leaf.typ {
	case format.Int64:
		if len(c.i64) == 0 {
			return
		}
		lo, hi := c.i64[0], c.i64[0]
		for _, v := range c.i64[1:] {
			lo, hi = min(lo, v), max(hi, v)
		}
		if !st.has {
			st.lo, st.hi, st.has = lo, hi, true
			return
		}
		st.lo, st.hi = min(st.lo, lo), max(st.hi, hi)
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
			return
		}
		if !st.has {
			st.flo, st.fhi, st.has = lo, hi, true
			return
		}
		st.flo, st.fhi = min(st.flo, lo), max(st.fhi, hi)
	case format.ByteArray:
		for i := 0; i+1 < len(c.offs); i++ {
			v := c.str[c.offs[i]:c.offs[i+1]]
			if !st.has || bytes.Compare(v, st.slo) < 0 {
				st.slo = append(st.slo[:0], v...)
			}
			if !st.has || bytes.Compare(v, st.shi) > 0 {
				st.shi = append(st.shi[:0], v...)
			}
			st.has = true
		}
	}
}

// statistics are the chunk's statistics in the format's encoding: a zero
// minimum is written -0 and a zero maximum +0 (so either zero in the data
// is inside); no bounds when no value qualifies, or when a string bound is
// empty (it could not be told from a missing one) or longer than
// maxStatBytes.
func (st *colStats) statistics(typ format.Type) format.Statistics {
	out := format.Statistics{NullCount: st.nulls}
	if !st.has {
		return out
	}
	switch typ {
	case format.Int64:
		out.MinValue = binary.LittleEndian.AppendUint64(nil, uint64(st.lo))
		out.MaxValue = binary.LittleEndian.AppendUint64(nil, uint64(st.hi))
	case format.Double:
		lo, hi := st.flo, st.fhi
		if lo == 0 {
			lo = math.Copysign(0, -1)
		}
		if hi == 0 {
			hi = 0
		}
		out.MinValue = binary.LittleEndian.AppendUint64(nil, math.Float64bits(lo))
		out.MaxValue = binary.LittleEndian.AppendUint64(nil, math.Float64bits(hi))
	case format.ByteArray:
		if len(st.slo) > 0 && len(st.slo) <= maxStatBytes && len(st.shi) <= maxStatBytes {
			out.MinValue = bytes.Clone(st.slo)
			out.MaxValue = bytes.Clone(st.shi)
		}
	}
	return out
}
