// Package capturetest reads a recorded dataset back the way a user does
// (parquet-go on the files under the Hive folders) and checks it against
// what was sent: the helpers of the capture and record tests.
package capturetest

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/mdcap/mdcap/schema"
)

// Dataset is every row of a dataset root, by symbol (decoded from the
// folder names), in file order.
type Dataset struct {
	Quotes    map[string][]schema.Quote
	DOMs      map[string][]schema.DOM
	Events    map[string][]schema.Event
	Files     []string // finished Parquet files
	TempFiles []string // dot-named files left behind
}

// Read reads every finished Parquet file under root with parquet-go.
func Read(root string) (*Dataset, error) {
	d := &Dataset{Quotes: map[string][]schema.Quote{}, DOMs: map[string][]schema.DOM{}, Events: map[string][]schema.Event{}}
	err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.Type().IsRegular() {
			return nil
		}
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			d.TempFiles = append(d.TempFiles, path)
			return nil
		}
		if !strings.HasSuffix(name, ".parquet") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		table, _, symbol, err := schema.ParsePartitionDir(filepath.ToSlash(rel))
		if err != nil {
			return fmt.Errorf("partition of %s: %w", path, err)
		}
		d.Files = append(d.Files, path)
		switch table {
		case schema.TableQuotes:
			rows, err := parquet.ReadFile[schema.Quote](path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			d.Quotes[symbol] = append(d.Quotes[symbol], rows...)
		case schema.TableDOM:
			rows, err := parquet.ReadFile[schema.DOM](path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			d.DOMs[symbol] = append(d.DOMs[symbol], rows...)
		case schema.TableEvents:
			rows, err := parquet.ReadFile[schema.Event](path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			d.Events[symbol] = append(d.Events[symbol], rows...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Files roll, so order rows by seq / time within each symbol.
	for _, rows := range d.Quotes {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Seq < rows[j].Seq })
	}
	for _, rows := range d.DOMs {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Seq < rows[j].Seq })
	}
	for _, rows := range d.Events {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].RecvTS < rows[j].RecvTS })
	}
	return d, nil
}

// Kind returns the events rows of sym with the given kind.
func (d *Dataset) Kind(sym, kind string) []schema.Event {
	var out []schema.Event
	for _, e := range d.Events[sym] {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// InGap reports whether recv lies inside a gap row of sym (bounds included).
func (d *Dataset) InGap(sym string, recv int64) bool {
	for _, g := range d.Kind(sym, schema.KindGap) {
		if g.GapStart != nil && g.GapEnd != nil && *g.GapStart <= recv && recv <= *g.GapEnd {
			return true
		}
	}
	return false
}

// CheckSeq reports the first symbol whose quotes or DOM rows do not number
// 1, 2, 3, … in a single run.
func (d *Dataset) CheckSeq() error {
	for sym, rows := range d.Quotes {
		for i, r := range rows {
			if r.Seq != int64(i+1) {
				return fmt.Errorf("quotes %s: row %d has seq %d", sym, i, r.Seq)
			}
		}
	}
	for sym, rows := range d.DOMs {
		for i, r := range rows {
			if r.Seq != int64(i+1) {
				return fmt.Errorf("dom %s: row %d has seq %d", sym, i, r.Seq)
			}
		}
	}
	return nil
}
