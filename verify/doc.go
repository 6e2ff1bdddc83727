// Package verify is the gap analysis behind `mdcap verify-gaps`: it reads
// a dataset root and says, per symbol and UTC date, what the data covers,
// which holes were recorded as gaps and which were not.
//
// Definitions (all times are recv_ts, Unix nanoseconds, UTC):
//
//   - Data rows are the rows of the quotes, dom and ticks tables of a
//     symbol, from every file and every recorder sharing the root.
//   - A marked gap is the union of the symbol's gap rows
//     [gap_start, gap_end] that overlap or touch, from every run and
//     recorder, whatever date partition the row was written in. A gap row
//     that concerns only the ticks table (detail.tables) and has a heal
//     row with the same bounds is healed and is not a gap.
//   - A run lasts from its start row to its stop row. A run without a stop
//     row (it crashed) lasts until the next start row of the same writer
//     (the writer is the run id's prefix before "-YYYYMMDDTHHMMSS…Z"; any
//     writer when a run id has another shape), or, for the last one, until
//     its last events row or the symbol's last data row, whichever is
//     later. A symbol without any start row is taken as recorded from its
//     first to its last data row.
//   - An unmarked silence is a maximal stretch longer than the silence
//     threshold with no data row, inside a run, and outside every marked
//     gap. Its ends are data rows, run bounds or gap bounds.
//   - Gaps and silences that cross midnight count in both dates: their
//     part inside a date adds to that date's total, their full length is
//     what "longest" and the thresholds see.
//
// The scan reads only the recv_ts column of data files, page by page,
// straight from parquet-go's decoded page buffers, and the events table
// through a projection. For each symbol it keeps a few counters per date
// and the coverage spans (stretches of data whose rows are at most the
// silence threshold apart), never the rows themselves, so memory does not
// grow with the size of the dataset. Several files of one partition may
// overlap in time (several recorders): coverage spans are merged, so
// order does not matter.
package verify
