package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mdcap/mdcap/journal"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// inspectCommand describes Parquet files or whole dataset folders.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "describe Parquet files or dataset folders: schema, rows, row groups, compression, bytes, time range, symbols, partitions",
		ArgsUsage: "PATH...",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "head", Usage: "print the first `N` rows of each file", EnvVars: []string{"MDCAP_HEAD"}},
			&cli.BoolFlag{Name: "json", Usage: "one JSON document for machines", EnvVars: []string{"MDCAP_JSON"}},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageError(errors.New("inspect: no PATH given"))
			}
			if c.Int("head") < 0 {
				return usageError(fmt.Errorf("inspect: --head %d: must be 0 or more", c.Int("head")))
			}
			rep, err := inspectPaths(c.Args().Slice(), c.Int("head"))
			var werr error
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				werr = enc.Encode(rep)
			} else {
				werr = rep.writeText(c.App.Writer)
			}
			if err != nil {
				return usageError(err)
			}
			return werr
		},
	}
}

// inspectFile is what inspect says about one Parquet file.
type inspectFile struct {
	Path      string            `json:"path"`
	Table     string            `json:"table,omitempty"`
	Date      string            `json:"date,omitempty"`
	Symbol    string            `json:"symbol,omitempty"`
	Bytes     int64             `json:"bytes"`
	Rows      int64             `json:"rows"`
	RowGroups int               `json:"row_groups"`
	Compress  []string          `json:"compression"`
	MinRecvTS string            `json:"min_recv_ts,omitempty"`
	MaxRecvTS string            `json:"max_recv_ts,omitempty"`
	CreatedBy string            `json:"created_by,omitempty"`
	KeyValue  map[string]string `json:"key_value,omitempty"`
	Columns   []storage.Column  `json:"columns"`
	Head      []map[string]any  `json:"head,omitempty"`
	min, max  int64
	hasRange  bool
}

// inspectReport is the whole answer of inspect.
type inspectReport struct {
	Files     []inspectFile `json:"files"`
	Summary   inspectSum    `json:"summary"`
	TempFiles []string      `json:"temporary_files"`
	// Journals are crash journals found under a dataset root: a live
	// recorder's, or a dead run's that the next start of its writer id
	// replays. Quarantine lists the damaged journal tails kept aside.
	Journals   []inspectJournal         `json:"journals"`
	Quarantine []journal.QuarantineInfo `json:"quarantine"`
	Errors     []string                 `json:"errors,omitempty"`
}

// inspectJournal describes one run's journal.
type inspectJournal struct {
	journal.RunInfo
	Records   int64    `json:"records"`
	MinRecvTS string   `json:"min_recv_ts,omitempty"`
	MaxRecvTS string   `json:"max_recv_ts,omitempty"`
	Damage    []string `json:"damage,omitempty"`
}

// inspectJournals reads the journals and quarantine under a dataset root.
func inspectJournals(root string, rep *inspectReport) error {
	runs, err := journal.Runs(nil, root, "")
	if err != nil {
		return err
	}
	for _, ri := range runs {
		ij := inspectJournal{RunInfo: ri}
		var lo, hi int64
		for _, seg := range ri.Segments {
			dmg, _, err := journal.ReadSegment(nil, seg, func(r *journal.Record) error {
				t := r.RecvTS()
				if ij.Records == 0 || t < lo {
					lo = t
				}
				if ij.Records == 0 || t > hi {
					hi = t
				}
				ij.Records++
				return nil
			})
			if err != nil {
				return err
			}
			if dmg != nil {
				ij.Damage = append(ij.Damage, fmt.Sprintf("%s: %s at byte %d (%d bytes)", seg, dmg.Reason, dmg.Offset, dmg.Bytes))
			}
		}
		if ij.Records > 0 {
			ij.MinRecvTS, ij.MaxRecvTS = fmtNS(lo), fmtNS(hi)
		}
		rep.Journals = append(rep.Journals, ij)
	}
	q, err := journal.Quarantined(root)
	if err != nil {
		return err
	}
	rep.Quarantine = append(rep.Quarantine, q...)
	return nil
}

type inspectSum struct {
	Files      int              `json:"files"`
	Rows       int64            `json:"rows"`
	Bytes      int64            `json:"bytes"`
	Tables     map[string]int64 `json:"rows_per_table"`
	Symbols    []string         `json:"symbols"`
	Partitions []string         `json:"partitions"`
	MinRecvTS  string           `json:"min_recv_ts,omitempty"`
	MaxRecvTS  string           `json:"max_recv_ts,omitempty"`
}

func fmtNS(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// inspectPaths describes every Parquet file under the paths. Bad paths
// and unreadable files are collected into the error; the others are
// still described.
func inspectPaths(paths []string, head int) (*inspectReport, error) {
	rep := &inspectReport{TempFiles: []string{}, Files: []inspectFile{},
		Journals: []inspectJournal{}, Quarantine: []journal.QuarantineInfo{}}
	rep.Summary.Tables = map[string]int64{}
	var errs []error
	syms := map[string]bool{}
	parts := map[string]bool{}
	var lo, hi int64
	have := false
	for _, p := range paths {
		entries, err := storage.List(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			if err := inspectJournals(p, rep); err != nil {
				errs = append(errs, err)
			}
		}
		for _, e := range entries {
			if e.Temp {
				rep.TempFiles = append(rep.TempFiles, e.Path)
				continue
			}
			f, err := inspectOne(e, head)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Files = append(rep.Files, f)
			rep.Summary.Files++
			rep.Summary.Rows += f.Rows
			rep.Summary.Bytes += f.Bytes
			table := f.Table
			if table == "" {
				table = "(outside a partition)"
			}
			rep.Summary.Tables[table] += f.Rows
			if f.Symbol != "" {
				syms[f.Symbol] = true
				if t, ok := schema.ParseTable(f.Table); ok {
					parts[schema.PartitionDir(t, f.Date, f.Symbol)] = true
				}
			}
			if f.hasRange {
				if !have || f.min < lo {
					lo = f.min
				}
				if !have || f.max > hi {
					hi = f.max
				}
				have = true
			}
		}
	}
	for s := range syms {
		rep.Summary.Symbols = append(rep.Summary.Symbols, s)
	}
	for p := range parts {
		rep.Summary.Partitions = append(rep.Summary.Partitions, p)
	}
	sort.Strings(rep.Summary.Symbols)
	sort.Strings(rep.Summary.Partitions)
	if have {
		rep.Summary.MinRecvTS, rep.Summary.MaxRecvTS = fmtNS(lo), fmtNS(hi)
	}
	for _, e := range errs {
		rep.Errors = append(rep.Errors, e.Error())
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("inspect: %w", errors.Join(errs...))
	}
	return rep, nil
}

func inspectOne(e storage.Entry, head int) (inspectFile, error) {
	pf, err := storage.OpenParquet(e.Path)
	if err != nil {
		return inspectFile{}, err
	}
	defer pf.Close()
	m, err := storage.ReadMeta(pf)
	if err != nil {
		return inspectFile{}, fmt.Errorf("inspect %s: %w", e.Path, err)
	}
	f := inspectFile{
		Path: e.Path, Table: e.Table, Date: e.Date, Symbol: e.Symbol, Bytes: e.Size,
		Rows: m.Rows, RowGroups: m.RowGroups, CreatedBy: m.CreatedBy, KeyValue: m.KeyValue,
		Columns: m.Columns, Compress: []string{},
		min: m.MinRecvTS, max: m.MaxRecvTS, hasRange: m.HasRecvTS,
	}
	seen := map[string]bool{}
	for _, c := range m.Columns {
		if c.Compression != "" && !seen[c.Compression] {
			seen[c.Compression] = true
			f.Compress = append(f.Compress, c.Compression)
		}
	}
	if m.HasRecvTS {
		f.MinRecvTS, f.MaxRecvTS = fmtNS(m.MinRecvTS), fmtNS(m.MaxRecvTS)
	}
	if head > 0 {
		rows, err := storage.HeadRows(pf, head)
		if err != nil {
			return inspectFile{}, fmt.Errorf("inspect %s: %w", e.Path, err)
		}
		f.Head = rows
	}
	return f, nil
}

func (r *inspectReport) writeText(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "%s\n", f.Path)
		if f.Table != "" {
			fmt.Fprintf(&b, "  partition   table=%s date=%s symbol=%q\n", f.Table, f.Date, f.Symbol)
		}
		fmt.Fprintf(&b, "  rows        %d in %d row group(s)\n", f.Rows, f.RowGroups)
		fmt.Fprintf(&b, "  bytes       %d", f.Bytes)
		if f.Rows > 0 {
			fmt.Fprintf(&b, " (%.2f per row)", float64(f.Bytes)/float64(f.Rows))
		}
		fmt.Fprintf(&b, "\n  compression %s\n", strings.Join(f.Compress, ", "))
		if f.MinRecvTS != "" {
			fmt.Fprintf(&b, "  recv_ts     %s .. %s\n", f.MinRecvTS, f.MaxRecvTS)
		}
		fmt.Fprintf(&b, "  schema\n")
		wp, wt, we := 0, 0, 0
		for _, c := range f.Columns {
			wp, wt, we = max(wp, len(c.Path)), max(wt, len(c.Type)), max(we, len(strings.Join(c.Encodings, ",")))
		}
		for _, c := range f.Columns {
			null := "required"
			if c.Optional {
				null = "nullable"
			}
			if c.Repeated {
				null += ", list"
			}
			fmt.Fprintf(&b, "    %-*s  %-*s  %-14s  %-*s  %d bytes\n", wp, c.Path, wt, c.Type, null, we, strings.Join(c.Encodings, ","), c.Bytes)
		}
		for _, row := range f.Head {
			js, err := json.Marshal(row)
			if err != nil {
				js = []byte(fmt.Sprintf("%v", row))
			}
			fmt.Fprintf(&b, "  row %s\n", js)
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "total: %d file(s), %d row(s), %d byte(s)\n", s.Files, s.Rows, s.Bytes)
	tables := make([]string, 0, len(s.Tables))
	for t := range s.Tables {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(&b, "  %-8s %d row(s)\n", t, s.Tables[t])
	}
	if s.MinRecvTS != "" {
		fmt.Fprintf(&b, "recv_ts: %s .. %s\n", s.MinRecvTS, s.MaxRecvTS)
	}
	fmt.Fprintf(&b, "symbols: %d %q\n", len(s.Symbols), s.Symbols)
	fmt.Fprintf(&b, "partitions: %d\n", len(s.Partitions))
	for _, p := range s.Partitions {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	fmt.Fprintf(&b, "temporary files: %d\n", len(r.TempFiles))
	for _, p := range r.TempFiles {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	fmt.Fprintf(&b, "journals: %d\n", len(r.Journals))
	for _, j := range r.Journals {
		fmt.Fprintf(&b, "  writer %q run %q: %d segment(s), %d byte(s), %d record(s)", j.WriterID, j.RunID, len(j.Segments), j.Bytes, j.Records)
		if j.MinRecvTS != "" {
			fmt.Fprintf(&b, ", recv_ts %s .. %s", j.MinRecvTS, j.MaxRecvTS)
		}
		fmt.Fprintf(&b, "\n    %s\n", j.Dir)
		for _, d := range j.Damage {
			fmt.Fprintf(&b, "    damaged: %s\n", d)
		}
	}
	fmt.Fprintf(&b, "quarantined: %d\n", len(r.Quarantine))
	for _, q := range r.Quarantine {
		fmt.Fprintf(&b, "  %s (%d bytes)\n", q.Path, q.Bytes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
