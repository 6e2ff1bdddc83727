package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Defaults of Config.
const (
	DefaultBuffer          = 65536
	DefaultRollEvery       = time.Second
	DefaultStatusEvery     = 30 * time.Second
	DefaultWriteErrorLimit = 30 * time.Second
)

// Config configures a Pipeline. Zero durations and sizes take the defaults.
type Config struct {
	// Symbols are the configured symbols, in order; every run- or
	// connection-wide event gets one events row per symbol.
	Symbols []string
	// DOM says whether DOM updates are captured (goes into gap details).
	DOM bool
	// RunID identifies the run in every events row.
	RunID string
	// Buffer is the capacity, in records, of the queue between the feed's
	// reader and the writer (--buffer).
	Buffer int
	// FullWait is how long the feed's reader waits for room when the queue
	// is full before it drops the frame (and records the loss); once an
	// overflow episode has started, frames are dropped at once until one
	// fits. Zero or negative (the default): never wait. Waiting slows the
	// socket reader, so a real server may conflate silently meanwhile, and
	// the receive times lag the send times by up to the wait (the
	// end-to-end ground-truth test with a stalled disk fails with 1 s);
	// it is meant for benchmarks, where it turns a writer slower than the
	// reader into backpressure instead of loss.
	FullWait time.Duration
	// RollEvery is how often the writer asks the sink to roll old files.
	RollEvery time.Duration
	// StatusEvery is the period of the one-line status log; negative
	// turns it off.
	StatusEvery time.Duration
	// WriteErrorLimit: writes failing without a single success for this
	// long make Run return a fatal error.
	WriteErrorLimit time.Duration
	// Recovered are the crash_recovery gaps to open at start: a previous run
	// of this writer died without writing its stop rows. Each gap runs from
	// Start to the first new row of its symbol.
	Recovered []RecoveredGap
	// StartDetail goes into the detail of every start row (never a secret).
	StartDetail map[string]any
	// Registry, when set, receives the pipeline's metrics.
	Registry prometheus.Registerer
	// BytesRead, when set, reports the bytes read from the feed's sockets.
	BytesRead func() int64
	// TokenExpiry, when set, reports when the current access token expires.
	TokenExpiry func() time.Time
	// FilesFinalised, when set, reports how many files the sink finalised.
	FilesFinalised func() int64
	// Hurry, when closed, makes the final drain skip the data still
	// buffered (it is recorded as a gap) and go straight to closing files.
	Hurry <-chan struct{}
	// Now is the wall clock (tests replace it); nil means time.Now.
	Now    func() time.Time
	Logger zerolog.Logger
}

// RecoveredGap is a crash_recovery gap owed for one symbol.
type RecoveredGap struct {
	Symbol string
	Start  int64          // Unix ns: the dead run's last durable row of the symbol, or its start
	Detail map[string]any // e.g. the dead run's id (never a secret)
}

func (c *Config) setDefaults() {
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.RollEvery == 0 {
		c.RollEvery = DefaultRollEvery
	}
	if c.StatusEvery == 0 {
		c.StatusEvery = DefaultStatusEvery
	}
	if c.WriteErrorLimit == 0 {
		c.WriteErrorLimit = DefaultWriteErrorLimit
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if len(c.Symbols) == 0 {
		return errors.New("capture: Symbols: at least one symbol is required")
	}
	seen := make(map[string]bool, len(c.Symbols))
	for _, s := range c.Symbols {
		if s == "" {
			return errors.New("capture: Symbols: empty symbol")
		}
		if seen[s] {
			return fmt.Errorf("capture: Symbols: %q listed twice", s)
		}
		seen[s] = true
	}
	if c.RunID == "" {
		return errors.New("capture: RunID: required")
	}
	if c.Buffer < 1 {
		return fmt.Errorf("capture: Buffer: %d is not positive", c.Buffer)
	}
	if c.RollEvery < 0 {
		return fmt.Errorf("capture: RollEvery: %v is negative", c.RollEvery)
	}
	if c.WriteErrorLimit < 0 {
		return fmt.Errorf("capture: WriteErrorLimit: %v is negative", c.WriteErrorLimit)
	}
	return nil
}
