package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of the thresholds (documented in the README).
const (
	DefaultMaxGap  = time.Minute
	DefaultSilence = 5 * time.Minute
)

// maxThreshold bounds --silence so that timestamp ± threshold never
// overflows (about 11 years).
const maxThreshold = 100_000 * time.Hour

// Config says what to verify.
type Config struct {
	Root    string        // dataset root
	MaxGap  time.Duration // a marked gap longer than this fails the check
	Silence time.Duration // an unmarked silence longer than this fails the check
	Symbols []string      // only these symbols; empty = all
	From    time.Time     // only data at or after From; zero = unbounded
	To      time.Time     // only data before To; zero = unbounded
	// SkipBad reports unreadable files and folders in Report.Skipped and
	// goes on instead of failing.
	SkipBad bool
	// Progress, when set, is called after each file with the files and
	// bytes done so far and the totals.
	Progress func(p Progress)
	Logger   zerolog.Logger
}

// Progress is a snapshot of a scan.
type Progress struct {
	Files, TotalFiles int
	Bytes, TotalBytes int64
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("verify.Config.Root: empty"))
	}
	if c.MaxGap < 0 {
		errs = append(errs, errors.New("verify.Config.MaxGap: negative"))
	}
	if c.Silence <= 0 || c.Silence > maxThreshold {
		errs = append(errs, fmt.Errorf("verify.Config.Silence: must be positive and at most %s", maxThreshold))
	}
	if !c.From.IsZero() && !c.To.IsZero() && !c.From.Before(c.To) {
		errs = append(errs, errors.New("verify.Config.From: not before To"))
	}
	return errors.Join(errs...)
}

// window is the [lo, hi) time filter in Unix nanoseconds.
type window struct{ lo, hi int64 }

func newWindow(from, to time.Time) window {
	w := window{lo: math.MinInt64, hi: math.MaxInt64}
	if !from.IsZero() {
		w.lo = from.UnixNano()
	}
	if !to.IsZero() {
		w.hi = to.UnixNano()
	}
	return w
}

// keepsDay reports whether the UTC date overlaps the window.
func (w window) keepsDay(date string) bool {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return false
	}
	lo := d.UnixNano()
	return lo < w.hi && lo+int64(24*time.Hour) > w.lo
}

// Run scans the dataset under cfg.Root and returns its report. Bad input
// (a missing folder, a path that is not a dataset, an unreadable or
// truncated file) is a *BadInputError unless cfg.SkipBad is set. It
// checks ctx between files.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	a := newAnalysis(cfg)
	if err := a.run(ctx); err != nil {
		return nil, err
	}
	return a.rep, nil
}
