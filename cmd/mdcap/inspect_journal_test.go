package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/journal"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// TestInspect_ShowsJournalsAndQuarantine: a dead run's journal (with a
// torn tail) and a quarantined file are described in text and JSON.
func TestInspect_ShowsJournalsAndQuarantine(t *testing.T) {
	root := t.TempDir()
	ds, err := storage.Open(storage.Config{Root: root, WriterID: "w", RunID: "w-1", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(journal.Config{Root: root, WriterID: "w", RunID: "w-1", Start: time.Now(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	s := journal.NewSink(ds, j)
	for i := 1; i <= 25; i++ {
		q := schema.Quote{RecvTS: int64(i) * 1e9, Seq: int64(i)}
		if err := s.WriteQuote("ESZ6", &q); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(j.Dir(), "*.seg"))
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{9, 9, 9}) // a torn frame header
	f.Close()
	qdir := filepath.Join(root, journal.QuarantineDir, "w", "w-0")
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(qdir, "00000001.seg.at-8.bad-checksum"), []byte("xxxx"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI("inspect", root)
	if code != exitOK {
		t.Fatalf("inspect: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{`journals: 1`, `writer "w" run "w-1": 1 segment(s)`, `25 record(s)`,
		`damaged:`, `torn frame header`, `quarantined: 1`, `00000001.seg.at-8.bad-checksum (4 bytes)`} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI("inspect", "--json", root)
	var rep struct {
		Journals []struct {
			RunID   string   `json:"run_id"`
			Records int64    `json:"records"`
			Damage  []string `json:"damage"`
		} `json:"journals"`
		Quarantine []struct {
			Bytes int64 `json:"bytes"`
		} `json:"quarantine"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
		t.Fatalf("inspect --json: exit %d, %v\n%s", code, err, out)
	}
	if len(rep.Journals) != 1 || rep.Journals[0].RunID != "w-1" || rep.Journals[0].Records != 25 ||
		len(rep.Journals[0].Damage) != 1 || len(rep.Quarantine) != 1 || rep.Quarantine[0].Bytes != 4 {
		t.Errorf("inspect --json: %+v", rep)
	}
	ds.Close()
}
