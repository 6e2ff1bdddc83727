package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"io"

	"github.com/mdcap/mdcap/schema"
)

// Entry is one file found in a dataset: a finished Parquet file or a
// temporary file a writer left behind.
type Entry struct {
	Path   string
	Size   int64
	Temp   bool   // a dot-named temporary file (not part of the dataset)
	Table  string // from the partition folders; "" when outside a partition
	Date   string
	Symbol string // decoded
	// WriterID, RunID and Counter come from the file name when a Dataset
	// made it (NameOK).
	WriterID string
	RunID    string
	Counter  uint64
	NameOK   bool
}

// List finds the Parquet files under path (a file or a folder), sorted
// by path. Temporary files are listed with Temp set; other files are
// skipped. A path that does not exist is an error.
func List(path string) ([]Entry, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, opError("stat", path, err)
	}
	var out []Entry
	if !st.IsDir() {
		e := entryOf(path, st.Size())
		e.Temp = IsTempName(filepath.Base(path))
		return []Entry{e}, nil
	}
	err = filepath.WalkDir(path, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return opError("read dir", p, err)
		}
		if !de.Type().IsRegular() {
			return nil
		}
		name := de.Name()
		temp := IsTempName(name)
		if !temp && (strings.HasPrefix(name, ".") || !strings.HasSuffix(name, parquetExt)) {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return opError("stat", p, err)
		}
		e := entryOf(p, info.Size())
		e.Temp = temp
		out = append(out, e)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// entryOf fills the partition fields from the folders above a file.
func entryOf(p string, size int64) Entry {
	e := Entry{Path: p, Size: size}
	e.WriterID, e.RunID, e.Counter, _, e.NameOK = ParseFileName(filepath.Base(p))
	sdir := filepath.Dir(p)
	ddir := filepath.Dir(sdir)
	tdir := filepath.Dir(ddir)
	rel := filepath.Base(tdir) + "/" + filepath.Base(ddir) + "/" + filepath.Base(sdir)
	if t, date, sym, err := schema.ParsePartitionDir(rel); err == nil {
		e.Table, e.Date, e.Symbol = t.String(), date, sym
	}
	return e
}

// ParquetFile is an open Parquet file.
type ParquetFile struct {
	*parquet.File
	f *os.File
}

// Close closes the file.
func (p *ParquetFile) Close() error { return p.f.Close() }

// OpenParquet opens a Parquet file for reading and checks its footer. A
// non-Parquet or truncated file is an error naming the file.
func OpenParquet(path string) (*ParquetFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, opError("open", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, opError("stat", path, err)
	}
	pf, err := openParquet(f, st.Size())
	if err != nil {
		f.Close()
		return nil, opError("read parquet", path, err)
	}
	return &ParquetFile{File: pf, f: f}, nil
}

// openParquet guards against a reader that panics on malformed input.
func openParquet(f *os.File, size int64) (pf *parquet.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			pf, err = nil, fmt.Errorf("malformed file: %v", r)
		}
	}()
	if size < 12 {
		return nil, errors.New("not a Parquet file (too short)")
	}
	// The reader allocates the footer length the trailer claims before it
	// reads it: a corrupt trailer could ask for gigabytes.
	var trailer [8]byte
	if _, err := f.ReadAt(trailer[:], size-8); err != nil {
		return nil, fmt.Errorf("read trailer: %w", err)
	}
	if n := int64(binary.LittleEndian.Uint32(trailer[:4])); n > size-12 {
		return nil, fmt.Errorf("malformed file: footer length %d exceeds the file's %d bytes", n, size)
	}
	pf, err = parquet.OpenFile(f, size, parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, err
	}
	if err := CheckCodecs(pf); err != nil {
		return nil, err
	}
	return pf, nil
}

// CheckCodecs refuses a file whose column chunks use a compression other
// than zstd (what mdcap writes), snappy, gzip or none. The reader's LZ4
// decoders grow their output buffer without bound on corrupt input (a
// mutated codec byte made FuzzInspect run out of memory), and mdcap never
// writes LZ4.
func CheckCodecs(pf *parquet.File) error {
	for i, rg := range pf.Metadata().RowGroups {
		for j, cc := range rg.Columns {
			switch c := cc.MetaData.Codec; c {
			case format.Uncompressed, format.Snappy, format.Gzip, format.Zstd:
			default:
				return fmt.Errorf("row group %d, column %d: compression %s is not read (zstd, snappy, gzip or none)", i, j, c)
			}
		}
	}
	return nil
}

// Column describes one leaf column of a file.
type Column struct {
	Path        string   `json:"path"`
	Type        string   `json:"type"` // physical and logical type, e.g. "INT64 TIMESTAMP(NANOS,UTC)"
	Optional    bool     `json:"optional"`
	Repeated    bool     `json:"repeated"`
	Compression string   `json:"compression"`
	Encodings   []string `json:"encodings"`
	Bytes       int64    `json:"bytes"` // compressed, over every row group
	RawBytes    int64    `json:"raw_bytes"`
}

// Meta is what a file's footer says about it.
type Meta struct {
	Rows      int64             `json:"rows"`
	RowGroups int               `json:"row_groups"`
	Columns   []Column          `json:"columns"`
	CreatedBy string            `json:"created_by"`
	KeyValue  map[string]string `json:"key_value,omitempty"`
	// MinRecvTS and MaxRecvTS are the range of the recv_ts column (Unix
	// ns), valid when HasRecvTS.
	MinRecvTS int64 `json:"-"`
	MaxRecvTS int64 `json:"-"`
	HasRecvTS bool  `json:"-"`
}

// ReadMeta describes an open file from its footer; the recv_ts range
// comes from the column statistics, or from the values when a writer
// left them out.
func ReadMeta(pf *ParquetFile) (m Meta, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read metadata: malformed file: %v", r)
		}
	}()
	md := pf.Metadata()
	m = Meta{Rows: md.NumRows, RowGroups: len(md.RowGroups), CreatedBy: md.CreatedBy}
	for _, kv := range md.KeyValueMetadata {
		if m.KeyValue == nil {
			m.KeyValue = map[string]string{}
		}
		m.KeyValue[kv.Key] = kv.Value
	}
	leaves := pf.Schema().Columns()
	for i, path := range leaves {
		leaf, _ := pf.Schema().Lookup(path...)
		c := Column{Path: strings.Join(path, ".")}
		if leaf.Node != nil {
			c.Type = typeName(leaf.Node)
			c.Optional = leaf.Node.Optional()
			c.Repeated = leaf.MaxRepetitionLevel > 0
		}
		encs := map[string]bool{}
		for _, rg := range md.RowGroups {
			if i >= len(rg.Columns) {
				continue
			}
			cm := rg.Columns[i].MetaData
			c.Compression = cm.Codec.String()
			c.Bytes += cm.TotalCompressedSize
			c.RawBytes += cm.TotalUncompressedSize
			for _, e := range cm.Encoding {
				encs[e.String()] = true
			}
		}
		for e := range encs {
			c.Encodings = append(c.Encodings, e)
		}
		sort.Strings(c.Encodings)
		m.Columns = append(m.Columns, c)
	}
	return m, readRecvRange(pf, &m)
}

func typeName(n parquet.Node) string {
	t := n.Type()
	s := t.Kind().String()
	if lt := t.LogicalType(); lt != nil {
		s += " " + lt.String()
	}
	return s
}

// readRecvRange sets the recv_ts range from statistics or values.
func readRecvRange(pf *ParquetFile, m *Meta) error {
	if m.Rows == 0 {
		return nil
	}
	m.MinRecvTS, m.MaxRecvTS, m.HasRecvTS = Int64Range(pf, "recv_ts")
	return nil
}

// Int64Range is the range of the non-NULL values of an INT64 column of
// the file, from the row groups' statistics or, where a row group has
// none, from its values. ok is false when the column is missing, not
// INT64, holds no value, or the file is malformed.
func Int64Range(pf *ParquetFile, column string) (lo, hi int64, ok bool) {
	defer func() {
		if recover() != nil {
			lo, hi, ok = 0, 0, false
		}
	}()
	leaf, found := pf.Schema().Lookup(column)
	if !found || leaf.Node.Type().Kind() != parquet.Int64 {
		return 0, 0, false
	}
	add := func(a, b int64) {
		if !ok || a < lo {
			lo = a
		}
		if !ok || b > hi {
			hi = b
		}
		ok = true
	}
	md := pf.Metadata()
	fromStats := true
	for _, rg := range md.RowGroups {
		mn, mx := statBytes(rg.Columns[leaf.ColumnIndex].MetaData.Statistics)
		if len(mn) != 8 || len(mx) != 8 {
			fromStats = false
			break
		}
		add(int64(binary.LittleEndian.Uint64(mn)), int64(binary.LittleEndian.Uint64(mx)))
	}
	if fromStats {
		return lo, hi, ok
	}
	ok = false
	buf := make([]parquet.Value, 1024)
	for _, rg := range pf.RowGroups() {
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			p, err := pages.ReadPage()
			if err != nil {
				break
			}
			vr := p.Values()
			for {
				n, err := vr.ReadValues(buf)
				for _, v := range buf[:n] {
					if !v.IsNull() {
						x := v.Int64()
						add(x, x)
					}
				}
				if err != nil {
					break
				}
			}
			parquet.Release(p)
		}
		pages.Close()
	}
	return lo, hi, ok
}

func statBytes(st format.Statistics) ([]byte, []byte) {
	if len(st.MinValue) == 8 && len(st.MaxValue) == 8 {
		return st.MinValue, st.MaxValue
	}
	return st.Min, st.Max
}

// HeadRows reads up to n rows of a file as column name → value maps
// (timestamps as Unix ns, lists as slices, NULL as nil).
func HeadRows(pf *ParquetFile, n int) (rows []map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read rows: malformed file: %v", r)
		}
	}()
	r := parquet.NewGenericReader[map[string]any](pf.File, pf.Schema())
	defer r.Close()
	defer func() { formatTimestamps(pf.Schema(), rows) }()
	for len(rows) < n {
		buf := make([]map[string]any, min(n-len(rows), 128))
		for i := range buf {
			buf[i] = map[string]any{}
		}
		k, rerr := r.Read(buf)
		rows = append(rows, buf[:k]...)
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			return rows, fmt.Errorf("read rows: %w", rerr)
		}
		if k == 0 {
			break
		}
	}
	return rows, nil
}

// formatTimestamps rewrites top-level timestamp columns (read as Unix
// integers) as RFC 3339 UTC strings with nanoseconds.
func formatTimestamps(s *parquet.Schema, rows []map[string]any) {
	var cols []string
	for _, f := range s.Fields() {
		if !f.Leaf() {
			continue
		}
		lt := f.Type().LogicalType()
		if lt == nil {
			continue
		}
		ts, ok := lt.Value.(*format.TimestampType)
		if !ok || !strings.Contains(ts.Unit.String(), "NANOS") {
			continue // only nanosecond stamps; others stay as read
		}
		cols = append(cols, f.Name())
	}
	for _, row := range rows {
		for _, c := range cols {
			switch v := row[c].(type) {
			case int64:
				row[c] = time.Unix(0, v).UTC().Format(time.RFC3339Nano)
			case *int64:
				if v != nil {
					row[c] = time.Unix(0, *v).UTC().Format(time.RFC3339Nano)
				}
			case time.Time:
				row[c] = v.UTC().Format(time.RFC3339Nano)
			}
		}
	}
}
