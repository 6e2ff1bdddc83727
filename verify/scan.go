package verify

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// colRecvTS is the one column every table has and the scan reads.
const colRecvTS = "recv_ts"

// scanBufLen is the number of values decoded at a time on the slow path.
const scanBufLen = 8192

// openParquet opens path as a Parquet file without reading its page
// index or bloom filters. The caller closes the returned *os.File.
func openParquet(path string) (*os.File, *parquet.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size(),
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
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
