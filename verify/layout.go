package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// ErrNotDataset says that a folder holds none of the dataset's tables.
var ErrNotDataset = errors.New("not an mdcap dataset (no quotes, dom, ticks or events folder)")

// BadInputError names the file or folder that could not be read. The CLI
// maps it to exit status 2.
type BadInputError struct {
	Path string
	Err  error
}

func (e *BadInputError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// fileRef is one finalised Parquet file of a partition.
type fileRef struct {
	Path string
	Size int64
}

// partition is one (symbol, date) with the files of each table.
type partition struct {
	Symbol string
	Date   string // YYYY-MM-DD
	Files  [schema.NumTables][]fileRef
}

// layout is what listing a dataset root found.
type layout struct {
	Parts      []*partition // sorted by symbol, then date
	Files      int
	Bytes      int64
	DataTables [schema.NumTables]bool // which table folders exist
}

// listDataset walks root/<table>/date=…/symbol=…/*.parquet. Names that
// start with "." (temporary files) and files not ending in .parquet are
// ignored. A folder that cannot be read or a partition name that cannot
// be decoded is bad input: it is returned, or, with skipBad, passed to
// skip and left out.
func listDataset(root string, keepDate func(string) bool, keepSymbol func(string) bool, skipBad bool, skip func(path string, err error)) (*layout, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, &BadInputError{Path: root, Err: err}
	}
	if !st.IsDir() {
		return nil, &BadInputError{Path: root, Err: errors.New("not a folder")}
	}
	bad := func(path string, err error) error {
		if skipBad {
			skip(path, err)
			return nil
		}
		return &BadInputError{Path: path, Err: err}
	}
	l := &layout{}
	parts := map[[2]string]*partition{}
	found := false
	for t := schema.Table(0); t < schema.NumTables; t++ {
		tdir := filepath.Join(root, t.String())
		dates, err := os.ReadDir(tdir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found = true
		l.DataTables[t] = true
		if err != nil {
			if err := bad(tdir, err); err != nil {
				return nil, err
			}
			continue
		}
		for _, de := range dates {
			name := de.Name()
			if strings.HasPrefix(name, ".") || !de.IsDir() {
				continue
			}
			ddir := filepath.Join(tdir, name)
			date, ok := strings.CutPrefix(name, "date=")
			if _, perr := time.Parse(time.DateOnly, date); !ok || perr != nil {
				if err := bad(ddir, errors.New("not a date=YYYY-MM-DD partition")); err != nil {
					return nil, err
				}
				continue
			}
			if !keepDate(date) {
				continue
			}
			syms, err := os.ReadDir(ddir)
			if err != nil {
				if err := bad(ddir, err); err != nil {
					return nil, err
				}
				continue
			}
			for _, se := range syms {
				sname := se.Name()
				if strings.HasPrefix(sname, ".") || !se.IsDir() {
					continue
				}
				sdir := filepath.Join(ddir, sname)
				enc, ok := strings.CutPrefix(sname, "symbol=")
				var sym string
				var derr error
				if ok {
					sym, derr = schema.DecodeSymbol(enc)
				}
				if !ok || derr != nil || sym == "" {
					if err := bad(sdir, fmt.Errorf("not a symbol=<SYMBOL> partition: %v", derr)); err != nil {
						return nil, err
					}
					continue
				}
				if !keepSymbol(sym) {
					continue
				}
				files, err := os.ReadDir(sdir)
				if err != nil {
					if err := bad(sdir, err); err != nil {
						return nil, err
					}
					continue
				}
				key := [2]string{sym, date}
				p := parts[key]
				for _, fe := range files {
					fname := fe.Name()
					if strings.HasPrefix(fname, ".") || !strings.HasSuffix(fname, ".parquet") || fe.IsDir() {
						continue
					}
					path := filepath.Join(sdir, fname)
					info, err := fe.Info()
					if err != nil {
						if err := bad(path, err); err != nil {
							return nil, err
						}
						continue
					}
					if p == nil {
						p = &partition{Symbol: sym, Date: date}
						parts[key] = p
					}
					p.Files[t] = append(p.Files[t], fileRef{Path: path, Size: info.Size()})
					l.Files++
					l.Bytes += info.Size()
				}
			}
		}
	}
	if !found {
		if _, ok := schema.ParseTable(filepath.Base(filepath.Clean(root))); ok {
			return nil, &BadInputError{Path: root, Err: fmt.Errorf("%w: this is one table of a dataset; give its parent folder", ErrNotDataset)}
		}
		return nil, &BadInputError{Path: root, Err: ErrNotDataset}
	}
	for _, p := range parts {
		for t := range p.Files {
			slices.SortFunc(p.Files[t], func(a, b fileRef) int { return strings.Compare(a.Path, b.Path) })
		}
		l.Parts = append(l.Parts, p)
	}
	slices.SortFunc(l.Parts, func(a, b *partition) int {
		if c := strings.Compare(a.Symbol, b.Symbol); c != 0 {
			return c
		}
		return strings.Compare(a.Date, b.Date)
	})
	return l, nil
}
