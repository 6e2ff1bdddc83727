package pqw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go/format"
)

// MaxRowGroups is the most row groups a file may hold (the format numbers
// them with int16); a caller rolls the file before it gets there.
const MaxRowGroups = 1<<15 - 1

// magic starts and ends every Parquet file.
const magic = "PAR1"

// ErrTooManyRowGroups is returned by Flush on a file that holds
// MaxRowGroups row groups already.
var ErrTooManyRowGroups = errors.New("pqw: too many row groups in one file")

// Options are a file's footer metadata.
type Options struct {
	CreatedBy string            // the footer's created_by
	KeyValue  map[string]string // the footer's key/value metadata
}

// Writer writes one Parquet file of one table. Rows are copied into
// typed column buffers by the Append methods (the caller may reuse its
// row at once). Every DefaultPageRows rows or DefaultPageBytes of them,
// each column's rows are encoded and compressed into a page of the open
// row group, so a writer holds at most one page of rows uncompressed.
// Flush writes the open row group; Close flushes and writes the footer.
// Reset starts a new file with the same buffers. Not safe for
// concurrent use.
//
// Only the Append method of the writer's table may be called.
type Writer struct {
	layout  *Layout
	enc     *Encoder
	out     io.Writer
	cols    []column
	rows    int   // rows of the open row group
	prows   int   // rows of the page being filled
	raw     int64 // estimated bytes of the page being filled
	encoded int64 // bytes of the open row group's encoded pages
	written int64 // bytes handed to out
	// pageMem and chunkMem are the capacity of the page buffers and of the
	// open row group's buffers, measured when a page is cut, a row group
	// written or buffers released (see Footprint).
	pageMem, chunkMem int64
	groups            []format.RowGroup
	kv                []format.KeyValue
	created           string
	err               error // sticky: a failed write breaks the file
	tap               tap   // a journal's hook (tap.go)
}

// NewWriter returns a writer of layout's table writing to out. enc
// encodes its row groups (one encoder can serve many writers used from
// one goroutine).
func NewWriter(l *Layout, enc *Encoder, out io.Writer, opt Options) *Writer {
	w := &Writer{layout: l, enc: enc, out: out, created: opt.CreatedBy}
	w.cols = make([]column, len(l.leaves))
	for i := range w.cols {
		w.cols[i].leaf = &l.leaves[i]
	}
	for k, v := range opt.KeyValue {
		w.kv = append(w.kv, format.KeyValue{Key: k, Value: v})
	}
	slices.SortFunc(w.kv, func(a, b format.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	return w
}

// Rows is the number of rows of the open row group (not yet written).
func (w *Writer) Rows() int { return w.rows }

// Buffered is the memory the rows not yet written take: the estimated
// bytes of the page being filled (values, levels, string offsets) plus
// the open row group's encoded pages.
func (w *Writer) Buffered() int64 { return w.raw + w.encoded }

// Written is the number of bytes handed to the output so far.
func (w *Writer) Written() int64 { return w.written }

// Size estimates the file's size if it were closed now: the bytes
// written plus the buffered rows' bytes (an upper bound of what they
// take once encoded and compressed).
func (w *Writer) Size() int64 { return w.written + w.raw + w.encoded }

// RowGroups is the number of row groups written.
func (w *Writer) RowGroups() int { return len(w.groups) }

// Footprint is the memory the writer's column buffers hold, as a
// budget can count it row by row: the capacity of the open row group's
// buffers and of the page buffers as last measured (when a page was cut,
// a row group written, buffers released, or the page's rows outgrew the
// capacity last measured). Between measures it does not see a column's
// buffer growing while others still have room.
func (w *Writer) Footprint() int64 { return w.chunkMem + max(w.pageMem, w.raw) }

// measure records the capacity of the column buffers (see Footprint).
func (w *Writer) measure() {
	var page, chunk int
	for i := range w.cols {
		page += w.cols[i].pageCap()
		chunk += w.cols[i].chunkCap()
	}
	w.pageMem, w.chunkMem = int64(page), int64(chunk)
}

// MemBytes is the memory the writer's column buffers hold.
func (w *Writer) MemBytes() int {
	n := 0
	for i := range w.cols {
		n += w.cols[i].capBytes()
	}
	return n
}

// Release drops the memory of the buffers that hold no rows: those of
// the page being filled when it is empty (after EncodePage, Flush or
// Close), and the open row group's pages too when it is empty (after
// Flush or Close).
func (w *Writer) Release() {
	if w.prows != 0 {
		return
	}
	for i := range w.cols {
		if w.rows == 0 {
			w.cols[i].release()
		} else {
			w.cols[i].releasePage()
		}
	}
	w.measure()
}

// Reset makes the writer start a new file written to out, keeping its
// buffers' memory. The rows still buffered are dropped.
func (w *Writer) Reset(out io.Writer) {
	w.out = out
	w.written = 0
	clear(w.groups)
	w.groups = w.groups[:0]
	w.err = nil
	w.truncate()
}

func (w *Writer) truncate() {
	w.resetTap()
	for i := range w.cols {
		w.cols[i].truncate()
		w.cols[i].resetChunk()
	}
	w.rows, w.prows, w.raw, w.encoded = 0, 0, 0, 0
	w.measure()
}

// added completes an Append of a row of about n bytes; it encodes the
// page being filled once it is full.
func (w *Writer) added(n int64) {
	w.rows++
	w.prows++
	w.raw += n
	if w.prows >= w.enc.pageRows || w.raw >= DefaultPageBytes {
		w.cut()
	} else if w.raw > w.pageMem {
		w.measure() // the page outgrew its buffers: they grew
	}
}

// PageBytes is the estimated bytes of the page being filled (the rows
// held uncompressed).
func (w *Writer) PageBytes() int64 { return w.raw }

// EncodePage encodes and compresses the page being filled into the open
// row group now, which frees most of the memory its rows take without
// ending the row group. An encoding error breaks the file (Flush and
// Close return it).
func (w *Writer) EncodePage() { w.cut() }

// cut encodes every column's page being filled into its open chunk. An
// encoding error breaks the file (Flush and Close return it).
func (w *Writer) cut() {
	if w.prows == 0 {
		return
	}
	tapped := w.tap.fn != nil && w.err == nil
	if tapped {
		w.beforeCut()
	}
	rows := w.prows
	var enc int64
	for i := range w.cols {
		c := &w.cols[i]
		before := len(c.chunk.pages)
		if err := w.enc.page(c, w.prows); err != nil && w.err == nil {
			w.err = fmt.Errorf("pqw: encode column %v: %w", c.leaf.path, err)
		}
		enc += int64(len(c.chunk.pages) - before)
	}
	w.encoded += enc
	w.prows, w.raw = 0, 0
	if tapped && w.err == nil {
		w.afterCut(rows)
	}
	w.resetTap()
	w.measure()
}

// write hands bytes to the output; a failure breaks the file.
func (w *Writer) write(b []byte) error {
	n, err := w.out.Write(b)
	w.written += int64(n)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("pqw: write: %w", err)
	}
	return w.err
}

// begin writes the leading magic of the file once.
func (w *Writer) begin() error {
	if w.written > 0 {
		return nil
	}
	return w.write([]byte(magic))
}

// Flush writes the buffered rows as one row group. It does nothing when
// no row is buffered.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.rows == 0 {
		return nil
	}
	if len(w.groups) >= MaxRowGroups {
		return ErrTooManyRowGroups
	}
	if err := w.begin(); err != nil {
		return err
	}
	w.cut()
	if w.err != nil {
		return w.err
	}
	rg := rowGroup(w.cols, w.rows, w.written)
	rg.Ordinal = int16(len(w.groups))
	for i := range w.cols {
		if err := w.write(w.cols[i].chunk.pages); err != nil {
			return err
		}
	}
	w.groups = append(w.groups, rg)
	w.truncate()
	return nil
}

// Close writes the buffered rows and the footer. The output is not
// closed. A file with no row has no row group.
func (w *Writer) Close() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if err := w.begin(); err != nil {
		return err
	}
	var rows int64
	for i := range w.groups {
		rows += w.groups[i].NumRows
	}
	md := format.FileMetaData{
		Version:          2,
		Schema:           w.layout.elements,
		NumRows:          rows,
		RowGroups:        w.groups,
		KeyValueMetadata: w.kv,
		CreatedBy:        w.created,
		ColumnOrders:     w.layout.orders,
	}
	e := w.enc
	e.hbuf.Reset()
	if err := e.th.Encode(&md); err != nil {
		w.err = fmt.Errorf("pqw: encode footer: %w", err)
		return w.err
	}
	n := e.hbuf.Len()
	e.hbuf.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
	e.hbuf.WriteString(magic)
	return w.write(e.hbuf.Bytes())
}
