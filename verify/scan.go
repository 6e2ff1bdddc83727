package verify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/mdcap/mdcap/storage"
)

// colRecvTS is the one column every table has and the scan reads.
const colRecvTS = "recv_ts"

// scanBufLen is the number of values decoded at a time on the slow path.
const scanBufLen = 8192

// openParquet opens path as a Parquet file without reading its page
// index or bloom filters. The caller closes the returned *os.File. A
// corrupt footer is an error, never a panic or a huge allocation.
func openParquet(path string) (_ *os.File, pf *parquet.File, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		// parquet-go panics on some corrupt footers (found by FuzzRunCorrupt).
		if r := recover(); r != nil {
			pf, err = nil, fmt.Errorf("open parquet: corrupt file: %v", r)
		}
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	// The reader allocates the footer length the trailer claims before it
	// reads it: a corrupt trailer could ask for gigabytes.
	var trailer [8]byte
	if st.Size() < 12 {
		return nil, nil, errors.New("open parquet: not a Parquet file (too short)")
	}
	if _, err := f.ReadAt(trailer[:], st.Size()-8); err != nil {
		return nil, nil, fmt.Errorf("open parquet: read trailer: %w", err)
	}
	if n := int64(binary.LittleEndian.Uint32(trailer[:4])); n > st.Size()-12 {
		return nil, nil, fmt.Errorf("open parquet: footer length %d exceeds the file's %d bytes", n, st.Size())
	}
	pf, err = parquet.OpenFile(f, st.Size(),
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, nil, fmt.Errorf("open parquet: %w", err)
	}
	if err := storage.CheckCodecs(pf); err != nil {
		return nil, nil, fmt.Errorf("open parquet: %w", err)
	}
	return f, pf, nil
}

// scanRecvTS reads the recv_ts column of one file, page by page, and hands
// every batch of values to fn. fn must not keep the slice. Only that
// column's pages are read and decoded.
func scanRecvTS(path string, buf []int64, fn func([]int64)) (err error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer func() {
		// parquet-go may panic on some corrupt inputs; a bad file is an
		// error that names it, never a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("read %s: corrupt file: %v", colRecvTS, r)
		}
	}()
	leaf, ok := pf.Schema().Lookup(colRecvTS)
	if !ok {
		return fmt.Errorf("no %s column", colRecvTS)
	}
	if leaf.MaxRepetitionLevel != 0 || leaf.Node.Type().Kind() != parquet.Int64 {
		return fmt.Errorf("column %s is not a timestamp (int64)", colRecvTS)
	}
	for _, rg := range pf.RowGroups() {
		if err := scanChunk(rg.ColumnChunks()[leaf.ColumnIndex], buf, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanChunk(cc parquet.ColumnChunk, buf []int64, fn func([]int64)) error {
	pages := cc.Pages()
	defer pages.Close()
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s page: %w", colRecvTS, err)
		}
		err = scanPage(p, buf, fn)
		parquet.Release(p)
		if err != nil {
			return err
		}
	}
}

// scanPage passes the values of one page to fn: straight from the decoded
// page buffer when it holds plain int64 values (the fast path), through
// the value reader otherwise (dictionary pages, nulls).
func scanPage(p parquet.Page, buf []int64, fn func([]int64)) error {
	if p.NumNulls() == 0 && p.Dictionary() == nil {
		if d := p.Data(); d.Kind() == encoding.Int64 {
			vals := d.Int64()
			if int64(len(vals)) == p.NumValues() {
				fn(vals)
				return nil
			}
		}
	}
	r := p.Values()
	if ir, ok := r.(parquet.Int64Reader); ok && p.NumNulls() == 0 {
		for {
			n, err := ir.ReadInt64s(buf)
			if n > 0 {
				fn(buf[:n])
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s values: %w", colRecvTS, err)
			}
		}
	}
	vbuf := make([]parquet.Value, scanBufLen)
	for {
		n, err := r.ReadValues(vbuf)
		k := 0
		for _, v := range vbuf[:n] {
			if !v.IsNull() {
				buf[k] = v.Int64()
				k++
			}
		}
		if k > 0 {
			fn(buf[:k])
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s values: %w", colRecvTS, err)
		}
	}
}
