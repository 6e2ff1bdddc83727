package bench

import (
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// DatasetStats is what a recorder wrote, read back from its files.
type DatasetStats struct {
	Rows      map[string]int64 // per table
	Bytes     map[string]int64 // per table, finished files
	Files     int
	TempFiles int
	// Gaps by reason, except PlannedEnd: the server_close gaps, the
	// recorder's record of the blast's planned close (one per symbol).
	Gaps       map[string]int64
	PlannedEnd int64
}

// readDataset lists root and counts rows (from the footers), bytes and
// gap rows.
func readDataset(root string) (DatasetStats, error) {
	st := DatasetStats{Rows: map[string]int64{}, Bytes: map[string]int64{}, Gaps: map[string]int64{}}
	entries, err := storage.List(root)
	if err != nil {
		return st, err
	}
	for _, e := range entries {
		if e.Temp {
			st.TempFiles++
			continue
		}
		st.Files++
		st.Bytes[e.Table] += e.Size
		pf, err := storage.OpenParquet(e.Path)
		if err != nil {
			return st, err
		}
		st.Rows[e.Table] += pf.NumRows()
		pf.Close()
		if e.Table != schema.TableEvents.String() {
			continue
		}
		rows, err := parquet.ReadFile[schema.Event](e.Path)
		if err != nil {
			return st, fmt.Errorf("read events %s: %w", e.Path, err)
		}
		for _, r := range rows {
			if r.Kind != schema.KindGap {
				continue
			}
			if r.Reason == schema.ReasonServerClose {
				st.PlannedEnd++
				continue
			}
			st.Gaps[r.Reason]++
		}
	}
	return st, nil
}
