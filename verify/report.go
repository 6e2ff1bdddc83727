package verify

import "time"

// ReportVersion is the version of the JSON shape below. Fields may be
// added within a version; none is renamed or removed.
const ReportVersion = 1

// Report is the outcome of Run. It marshals to the documented JSON shape
// of `mdcap verify-gaps --json` (see README, "Verifying a dataset").
type Report struct {
	Version   int        `json:"version"`
	Root      string     `json:"root"`
	MaxGapNS  int64      `json:"max_gap_ns"`
	SilenceNS int64      `json:"silence_ns"`
	From      *time.Time `json:"from,omitempty"`
	To        *time.Time `json:"to,omitempty"`
	// OK is true when no marked gap is longer than MaxGapNS and no
	// unmarked silence is longer than SilenceNS.
	OK          bool           `json:"ok"`
	GapsOverMax int            `json:"gaps_over_max"`
	Silences    int            `json:"silences"`
	Files       int            `json:"files"` // files read (events of every date, data files inside --from/--to)
	Bytes       int64          `json:"bytes"` // their size
	DataRows    int64          `json:"data_rows"`
	Skipped     []SkippedFile  `json:"skipped"`
	Symbols     []SymbolReport `json:"symbols"`
}

// SkippedFile is a file or folder left out under --skip-bad.
type SkippedFile struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// SymbolReport covers one symbol over every date scanned.
type SymbolReport struct {
	Symbol string `json:"symbol"`
	// Runs counts the runs (distinct run_id of start rows) that captured
	// the symbol, over every date of the events table.
	Runs int `json:"runs"`
	// BadGapRows counts gap rows without gap_start/gap_end or ending
	// before they start; they are left out of Gaps.
	BadGapRows int         `json:"bad_gap_rows"`
	Gaps       []Gap       `json:"gaps"`
	Silences   []Silence   `json:"silences"`
	Days       []DayReport `json:"days"`
	// Coverage is the data coverage: spans within which no two
	// consecutive data rows are more than the silence threshold apart.
	Coverage []Span `json:"coverage"`
}

// Span is a time interval.
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Gap is one marked gap: the union of the gap rows of the symbol that
// overlap or touch, from every run and writer.
type Gap struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationNS int64     `json:"duration_ns"`
	// Reasons counts the merged gap rows by their reason column.
	Reasons map[string]int `json:"reasons"`
	Tables  []string       `json:"tables"` // union of detail.tables
	Runs    []string       `json:"runs"`   // run_id of the gap rows
	Rows    int            `json:"rows"`   // gap rows merged into this gap
	// Healed counts heal rows matching one of the merged gap rows, and
	// HealedTicks the ticks they say they recovered.
	Healed      int   `json:"healed"`
	HealedTicks int64 `json:"healed_ticks"`
	OverMax     bool  `json:"over_max"`
}

// Silence is an unmarked silence: a stretch longer than the silence
// threshold with no data row of the symbol, inside a run, and not covered
// by any marked gap.
type Silence struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationNS int64     `json:"duration_ns"`
}

// DayReport covers one symbol on one UTC date.
type DayReport struct {
	Date string `json:"date"`
	// Tables has an entry for each of quotes, dom, ticks, events that has
	// rows on that date.
	Tables   map[string]TableReport `json:"tables"`
	DataRows int64                  `json:"data_rows"` // quotes+dom+ticks
	First    *time.Time             `json:"first_recv_ts"`
	Last     *time.Time             `json:"last_recv_ts"`
	Gaps     DayGaps                `json:"gaps"`
	Healed   DayHealed              `json:"healed"`
	Silences DaySilences            `json:"silences"`
	OK       bool                   `json:"ok"`
}

// TableReport counts one table's rows on one date.
type TableReport struct {
	Rows  int64     `json:"rows"`
	First time.Time `json:"first_recv_ts"`
	Last  time.Time `json:"last_recv_ts"`
}

// DayGaps summarises the marked gaps touching a date. TotalNS counts only
// the part inside the date; LongestNS is the full length of the longest
// gap touching it, which is what --max-gap is checked against.
type DayGaps struct {
	Count     int            `json:"count"`
	TotalNS   int64          `json:"total_ns"`
	LongestNS int64          `json:"longest_ns"`
	OverMax   int            `json:"over_max"`
	Reasons   map[string]int `json:"reasons"`
}

// DayHealed summarises the heal rows whose gap touches a date.
type DayHealed struct {
	Count int   `json:"count"`
	Ticks int64 `json:"ticks"`
}

// DaySilences summarises the unmarked silences touching a date, measured
// like DayGaps.
type DaySilences struct {
	Count     int   `json:"count"`
	TotalNS   int64 `json:"total_ns"`
	LongestNS int64 `json:"longest_ns"`
}
