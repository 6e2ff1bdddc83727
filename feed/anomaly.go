package feed

import (
	"strings"
	"time"
)

// foldWindow is how long a burst of anomalies on one connection is folded
// into a single EventAnomaly.
const foldWindow = time.Second

// anomalyFold accumulates a burst of malformed or unexpected frames.
type anomalyFold struct {
	start  time.Time
	count  int
	first  string
	sample string
}

// anomaly records one malformed or unexpected frame on c.
func (s *Session) anomaly(c *conn, err error, raw []byte) { s.anomalyN(c, err, raw, 1) }

// anomalyN records n anomalies found in one frame. The first of a burst
// is logged; the burst becomes one EventAnomaly with its count once
// foldWindow has passed (or the connection ends).
func (s *Session) anomalyN(c *conn, err error, raw []byte, n int) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	f := &c.fold
	if f.count == 0 {
		f.start = time.Now()
		f.first = err.Error()
		f.sample = sample(raw)
		c.log.Warn().Str("error", f.first).Str("sample", f.sample).Msg("malformed or unexpected frame")
	}
	f.count += n
	c.foldPending.Store(true)
}

// flushAnomalies emits the pending burst of c once its window has passed,
// or at once when final.
func (s *Session) flushAnomalies(c *conn, final bool) {
	if !c.foldPending.Load() {
		return
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	f := &c.fold
	if f.count == 0 || (!final && time.Since(f.start) < foldWindow) {
		return
	}
	s.emitLocked(Event{Kind: EventAnomaly, Time: f.start, ConnID: c.id, Reason: ReasonMalformed, Detail: map[string]any{
		"count": f.count, "error": f.first, "sample": f.sample}})
	*f = anomalyFold{}
	c.foldPending.Store(false)
}

// sample is a short, printable excerpt of a frame for the events row.
func sample(raw []byte) string {
	const max = 200
	s := raw
	if len(s) > max {
		s = s[:max]
	}
	return strings.ToValidUTF8(string(s), "?")
}
