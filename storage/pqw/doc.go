// Package pqw writes mdcap's four tables as Parquet files with a column
// writer built for their fixed schemas, on parquet-go's own lower-level
// packages (format, thrift, the delta, byte-stream-split, plain and RLE
// encodings) and one shared zstd encoder.
//
// A row is copied field by field into typed per-column buffers (dense
// values plus definition and repetition levels): no reflection, no
// per-row allocation. The writer holds only the rows it has not written;
// an idle writer holds no preallocated pages.
//
// The file: the schema parquet-go derives from the row types' struct
// tags (the same schema elements, logical types and column orders),
// data pages V2 (levels RLE-encoded and uncompressed, values zstd), a
// page cut every DefaultPageLevels entries at a row boundary, one row
// group per Flush, column-chunk statistics (null count; min and max of
// the non-NULL, non-NaN values in the type's order) and no page index.
//
// Encoding a row group is a function of the column buffers and an
// Encoder's scratch space; writing its bytes is the caller's (see
// Writer.Flush).
package pqw
