package main

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture"
	"github.com/mdcap/mdcap/journal"
	"github.com/mdcap/mdcap/storage"
)

// runTimeLayout is the time part of a run id (writer id + "-" + start).
const runTimeLayout = "20060102T150405"

// newRunID is the id of a run of writerID started at t.
func newRunID(writerID string, t time.Time) string {
	t = t.UTC()
	return writerID + "-" + t.Format(runTimeLayout) + fmt.Sprintf("%03dZ", t.Nanosecond()/1e6)
}

// recoverDeadRuns finishes what dead runs of the writer left under the
// root (journal.Recover) and turns the gaps they owe into the pipeline's
// crash_recovery gaps. The writer lock must be held.
func recoverDeadRuns(cfg recordConfig, scfg storage.Config, log zerolog.Logger) ([]capture.RecoveredGap, journal.Recovered, error) {
	res, err := journal.Recover(journal.RecoverConfig{
		Root: cfg.Out, WriterID: cfg.WriterID, Symbols: cfg.Symbols, Storage: scfg,
		Logger: log.With().Str("part", "recovery").Logger(),
	})
	if err != nil {
		return nil, res, err
	}
	gaps := make([]capture.RecoveredGap, 0, len(res.Gaps))
	for _, g := range res.Gaps {
		gaps = append(gaps, capture.RecoveredGap{Symbol: g.Symbol, Start: g.Start, Detail: g.Detail})
	}
	if len(res.Runs) > 0 {
		log.Warn().Strs("dead_runs", res.Runs).Int64("replayed_rows", res.Replayed).Int64("duplicates_skipped", res.Duplicates).
			Strs("quarantined", res.Quarantined).Int("temp_files_removed", res.TempFilesSwept).
			Int("temp_files_finalised", res.TempFilesSalvaged).Int("files_opened", res.FilesOpened).Msg("crash recovery done")
	}
	return gaps, res, nil
}

// owed maps the crash gaps a run inherits to what its journal keeps of
// them (symbol → start).
func owed(gaps []capture.RecoveredGap) map[string]int64 {
	if len(gaps) == 0 {
		return nil
	}
	m := make(map[string]int64, len(gaps))
	for _, g := range gaps {
		m[g.Symbol] = g.Start
	}
	return m
}
