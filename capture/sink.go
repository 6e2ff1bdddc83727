package capture

import (
	"time"

	"github.com/mdcap/mdcap/schema"
)

// Sink is where the writer goroutine puts rows: a *storage.Dataset in the
// recorder, a fake in tests. Only the writer goroutine calls it. Rows are
// copied during a call; the writer reuses them afterwards.
type Sink interface {
	WriteQuote(symbol string, r *schema.Quote) error
	WriteDOM(symbol string, r *schema.DOM) error
	WriteEvent(symbol string, r *schema.Event) error
	// Roll finalises files that are old enough; called periodically.
	Roll(now time.Time) error
	// Close finalises every open file.
	Close() error
}
