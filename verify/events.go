package verify

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/valyala/fastjson"
)

// eventRow is the projection of the events table that verify needs.
// Columns absent from a file read as zero values.
type eventRow struct {
	RecvTS   int64  `parquet:"recv_ts,timestamp(nanosecond:utc)"`
	RunID    string `parquet:"run_id"`
	Kind     string `parquet:"kind"`
	GapStart *int64 `parquet:"gap_start,optional,timestamp(nanosecond:utc)"`
	GapEnd   *int64 `parquet:"gap_end,optional,timestamp(nanosecond:utc)"`
	Reason   string `parquet:"reason"`
	Detail   string `parquet:"detail"`
}

// readEvents reads the rows of one events file and passes each to fn.
func readEvents(path string, fn func(*eventRow)) (err error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read events: corrupt file: %v", r)
		}
	}()
	if _, ok := pf.Schema().Lookup("kind"); !ok {
		return errors.New("read events: no kind column")
	}
	rows := make([]eventRow, 256)
	for _, rg := range pf.RowGroups() {
		r := parquet.NewGenericRowGroupReader[eventRow](rg)
		for {
			n, rerr := r.Read(rows)
			for i := range rows[:n] {
				fn(&rows[i])
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				r.Close()
				return fmt.Errorf("read events: %w", rerr)
			}
		}
		if err := r.Close(); err != nil {
			return fmt.Errorf("close events reader: %w", err)
		}
	}
	return nil
}

// detailInfo is what verify takes from an event's detail JSON.
type detailInfo struct {
	Tables []string // "tables" of a gap row
	Ticks  int64    // ticks recovered, on a heal row
}

// parseDetail reads the detail column leniently: a detail that is not
// JSON yields zero values (the row still counts).
func parseDetail(p *fastjson.Parser, s string) detailInfo {
	var d detailInfo
	if s == "" {
		return d
	}
	v, err := p.Parse(s)
	if err != nil {
		return d
	}
	for _, t := range v.GetArray("tables") {
		if b, err := t.StringBytes(); err == nil {
			d.Tables = append(d.Tables, string(b))
		}
	}
	for _, k := range []string{"ticks", "recovered", "count", "rows"} {
		if x := v.Get(k); x != nil {
			if n, err := x.Int64(); err == nil {
				d.Ticks = n
				break
			}
		}
	}
	return d
}
