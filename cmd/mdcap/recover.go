package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// runTimeLayout is the time part of a run id (writer id + "-" + start).
const runTimeLayout = "20060102T150405"

// newRunID is the id of a run of writerID started at t.
func newRunID(writerID string, t time.Time) string {
	t = t.UTC()
	return writerID + "-" + t.Format(runTimeLayout) + fmt.Sprintf("%03dZ", t.Nanosecond()/1e6)
}

// runStart parses the start time back out of a run id of writerID.
func runStart(writerID, runID string) (time.Time, bool) {
	s, ok := strings.CutPrefix(runID, writerID+"-")
	if !ok || len(s) != len(runTimeLayout)+4 || !strings.HasSuffix(s, "Z") {
		return time.Time{}, false
	}
	t, err := time.Parse(runTimeLayout, s[:len(runTimeLayout)])
	if err != nil {
		return time.Time{}, false
	}
	var ms int
	if _, err := fmt.Sscanf(s[len(runTimeLayout):len(s)-1], "%03d", &ms); err != nil {
		return time.Time{}, false
	}
	return t.Add(time.Duration(ms) * time.Millisecond), true
}

// nameSafe mirrors the storage's file-name encoding of writer and run ids.
func nameSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "~%02X", c)
	}
	return b.String()
}

// nameUnsafe decodes nameSafe.
func nameUnsafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '~' && i+2 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02X", &c); err == nil {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// recoverCrash looks for the last run of writerID under root. When it
// left no stop rows (killed, power loss), it returns one crash_recovery gap
// per symbol, from the dead run's last durable row of that symbol (or the
// run's start, when nothing of it survived) to the new run's first row. It
// must run before storage.Open sweeps the dead run's temporary files.
func recoverCrash(root, writerID string, symbols []string, log zerolog.Logger) ([]capture.RecoveredGap, error) {
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	entries, err := storage.List(root)
	if err != nil {
		return nil, fmt.Errorf("list dataset: %w", err)
	}
	prefix := nameSafe(writerID) + "_"
	byRun := map[string][]storage.Entry{}
	for _, e := range entries {
		name := filepath.Base(e.Path)
		if e.Temp {
			name = strings.TrimPrefix(name, ".")
		}
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		run, _, ok := strings.Cut(rest, "_")
		if !ok {
			continue
		}
		byRun[run] = append(byRun[run], e)
	}
	if len(byRun) == 0 {
		return nil, nil
	}
	runs := make([]string, 0, len(byRun))
	for r := range byRun {
		runs = append(runs, r)
	}
	sort.Strings(runs) // same writer prefix, then the start time
	last := runs[len(runs)-1]
	files := byRun[last]

	lastRow := map[string]int64{}
	stopped := map[string]bool{}
	temps := 0
	runID := ""
	for _, e := range files {
		if e.Temp {
			temps++
			continue
		}
		pf, err := storage.OpenParquet(e.Path)
		if err != nil {
			log.Warn().Err(err).Str("path", e.Path).Msg("crash check: unreadable file skipped")
			continue
		}
		m, err := storage.ReadMeta(pf)
		if err == nil && m.HasRecvTS && m.MaxRecvTS > lastRow[e.Symbol] {
			lastRow[e.Symbol] = m.MaxRecvTS
		}
		pf.Close()
		if e.Table != schema.TableEvents.String() {
			continue
		}
		rows, err := parquet.ReadFile[schema.Event](e.Path)
		if err != nil {
			log.Warn().Err(err).Str("path", e.Path).Msg("crash check: unreadable events file skipped")
			continue
		}
		for _, r := range rows {
			runID = r.RunID
			if r.Kind == schema.KindStop {
				stopped[e.Symbol] = true
			}
		}
	}
	if len(stopped) > 0 {
		return nil, nil // the last run stopped cleanly
	}
	if runID == "" {
		runID = nameUnsafe(last)
	}
	detail := map[string]any{"dead_run": runID, "temp_files": temps}
	var start int64
	if t, ok := runStart(writerID, runID); ok {
		start = t.UnixNano()
	}
	var gaps []capture.RecoveredGap
	for _, sym := range symbols {
		from, ok := lastRow[sym]
		if !ok {
			from = start
		}
		if from == 0 {
			continue // nothing tells when the dead run was alive
		}
		gaps = append(gaps, capture.RecoveredGap{Symbol: sym, Start: from, Detail: detail})
	}
	return gaps, nil
}
