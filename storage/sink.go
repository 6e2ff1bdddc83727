package storage

import (
	"fmt"
	"io"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage/pqw"
)

// createdBy is the footer's created_by, as parquet-go formatted
// CreatedBy("mdcap", "", "") for the files written before pqw.
const createdBy = "mdcap version (build )"

// rowSink is the typed half of an open file: a pqw column writer that
// holds the rows not yet in a row group and writes row groups and the
// footer through the file's spillFile.
type rowSink = *pqw.Writer

// sinks is what the files of a Dataset share: the tables' layouts, one
// zstd compressor and one encoder (its scratch buffers; the Dataset's
// goroutine is the only one encoding).
type sinks struct {
	layouts [schema.NumTables]*pqw.Layout
	enc     *pqw.Encoder
}

func newSinks() (*sinks, error) {
	s := &sinks{}
	for t := schema.Table(0); t < schema.NumTables; t++ {
		l, err := pqw.LayoutOf(t)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		s.layouts[t] = l
	}
	comp, err := pqw.NewCompressor(1)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s.enc = pqw.NewEncoder(comp, 0)
	return s, nil
}

// newSink builds the writer of a table's file, writing to w.
func (s *sinks) newSink(t schema.Table, w io.Writer, cfg *Config) rowSink {
	return pqw.NewWriter(s.layouts[t], s.enc, w, pqw.Options{
		CreatedBy: createdBy,
		KeyValue: map[string]string{
			"mdcap.table":     t.String(),
			"mdcap.writer_id": cfg.WriterID,
			"mdcap.run_id":    cfg.RunID,
		},
	})
}
