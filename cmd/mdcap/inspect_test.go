package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// writeInspectDataset writes a small dataset: 25 quotes for ESZ6, 5 for
// "a/b", 3 events, plus one leftover temporary file.
func writeInspectDataset(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	d, err := storage.Open(storage.Config{Root: root, WriterID: "w1", RunID: "w1-run", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC).UnixNano()
	for i := 0; i < 25; i++ {
		bid := 6000.25
		r := schema.Quote{RecvTS: base + int64(i)*1e6, TS: base, ContractID: 1, Seq: int64(i + 1), ConnID: 1, BidPrice: &bid}
		if err := d.WriteQuote("ESZ6", &r); err != nil {
			t.Fatal(err)
		}
		if i < 5 {
			if err := d.WriteQuote("a/b", &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < 3; i++ {
		e := schema.Event{RecvTS: base + int64(i), RunID: "w1-run", Kind: schema.KindStart}
		if i == 2 {
			gs, ge := base-5e9, base+int64(i)
			e.Kind, e.GapStart, e.GapEnd, e.Reason = schema.KindGap, &gs, &ge, schema.ReasonEOF
		}
		if err := d.WriteEvent("ESZ6", &e); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "quotes", "date=2026-11-25", "symbol=ESZ6", ".w2_run_000001.parquet.tmp")
	if err := os.WriteFile(tmp, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"mdcap"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestInspectText(t *testing.T) {
	root := writeInspectDataset(t)
	code, out, errs := runCLI("inspect", "--head", "3", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"total: 3 file(s), 33 row(s)",
		"quotes   30 row(s)",
		"events   3 row(s)",
		`symbols: 2 ["ESZ6" "a/b"]`,
		"quotes/date=2026-11-25/symbol=a%2Fb",
		"recv_ts: 2026-11-25T21:00:00Z .. 2026-11-25T21:00:00.024Z",
		"compression ZSTD",
		"TIMESTAMP(isAdjustedToUTC=true,unit=NANOS)",
		"temporary files: 1",
		".w2_run_000001.parquet.tmp",
		`"bid_price":6000.25`,
		`"ask_price":null`,
		`"recv_ts":"2026-11-25T21:00:00.001Z"`,
		`"gap_start":"2026-11-25T20:59:55Z"`,
		`"gap_start":null`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

func TestInspectJSON(t *testing.T) {
	root := writeInspectDataset(t)
	code, out, errs := runCLI("inspect", "--json", filepath.Join(root, "quotes"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Files []struct {
			Path, Table, Date, Symbol string
			Rows                      int64
			RowGroups                 int      `json:"row_groups"`
			Compression               []string `json:"compression"`
			MinRecvTS                 string   `json:"min_recv_ts"`
		}
		Summary struct {
			Files      int
			Rows       int64
			Symbols    []string
			Partitions []string
		}
		TempFiles []string `json:"temporary_files"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Summary.Files != 2 || rep.Summary.Rows != 30 || len(rep.Summary.Partitions) != 2 || len(rep.TempFiles) != 1 {
		t.Fatalf("summary %+v temp %v", rep.Summary, rep.TempFiles)
	}
	for _, f := range rep.Files {
		if f.Table != "quotes" || f.Date != "2026-11-25" || f.RowGroups != 1 || len(f.Compression) != 1 || f.Compression[0] != "ZSTD" || f.MinRecvTS == "" {
			t.Errorf("file %+v", f)
		}
	}
}

func TestInspectBadInput(t *testing.T) {
	root := writeInspectDataset(t)
	dir := t.TempDir()
	notParquet := filepath.Join(dir, "notes.parquet")
	os.WriteFile(notParquet, []byte("this is not a parquet file at all"), 0o644)
	tiny := filepath.Join(dir, "tiny.parquet")
	os.WriteFile(tiny, []byte("PAR1"), 0o644)
	var good string
	filepath.WalkDir(filepath.Join(root, "events"), func(p string, de os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			good = p
		}
		return nil
	})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.parquet")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	noFooter := filepath.Join(dir, "nofooter.parquet")
	os.WriteFile(noFooter, data[:len(data)-3], 0o644)
	for _, p := range []string{filepath.Join(dir, "missing"), notParquet, tiny, truncated, noFooter} {
		code, _, errs := runCLI("inspect", p)
		if code != 2 || !strings.Contains(errs, p) {
			t.Errorf("inspect %s: exit %d, stderr %q", p, code, errs)
		}
	}
	// A good file next to a bad one is still described, and the exit is 2.
	code, out, _ := runCLI("inspect", good, truncated)
	if code != 2 || !strings.Contains(out, "total: 1 file(s), 3 row(s)") {
		t.Errorf("mixed: exit %d\n%s", code, out)
	}
	// An existing folder without files is described, not an error.
	if code, out, _ := runCLI("inspect", t.TempDir()); code != 0 || !strings.Contains(out, "total: 0 file(s)") {
		t.Errorf("empty folder: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI("inspect"); code != 2 {
		t.Errorf("no path: exit %d", code)
	}
	if code, _, _ := runCLI("inspect", "--head", "-1", good); code != 2 {
		t.Errorf("--head -1: exit %d", code)
	}
}
