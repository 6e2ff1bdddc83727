package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
	"github.com/mdcap/mdcap/storage/pqw"
)

// Sink is a storage.Dataset with a journal in front of it: every row the
// dataset takes reaches the journal — in the pages the dataset's files
// encode (the Sink is the dataset's storage.Tap), or, for the rows not in
// a page yet, copied from the files' tails when the journal syncs — each
// Roll makes the journal durable, and segments are released as the
// dataset finalises their files. It has the shape of capture.Sink; only
// the writer goroutine uses it.
type Sink struct {
	ds *storage.Dataset
	j  *Journal
	// low is a file number no row written since it was taken goes below
	// (the dataset's OldestUnfinished then; see Journal.MarkLow): taken at
	// each sync and roll, outside the dataset's calls.
	low    uint64
	closed bool
}

// NewSink journals the rows written to ds into j. It becomes ds's tap
// and the source of j's tails: create it before the first row is written.
func NewSink(ds *storage.Dataset, j *Journal) *Sink {
	s := &Sink{ds: ds, j: j}
	s.low = s.lowNow()
	ds.SetTap(s)
	j.tails = s.takeTails
	return s
}

// Dataset is the dataset behind the sink.
func (s *Sink) Dataset() *storage.Dataset { return s.ds }

// Journal is the journal in front of the dataset.
func (s *Sink) Journal() *Journal { return s.j }

// WriteQuote writes a quotes row to the dataset; the journal gets it with
// its page or its file's tail. A row the dataset refuses is not journaled
// (the writer records it as a write_error gap).
func (s *Sink) WriteQuote(symbol string, r *schema.Quote) error { return s.ds.WriteQuote(symbol, r) }

// WriteDOM writes a dom row (see WriteQuote).
func (s *Sink) WriteDOM(symbol string, r *schema.DOM) error { return s.ds.WriteDOM(symbol, r) }

// WriteTick writes a ticks row (see WriteQuote).
func (s *Sink) WriteTick(symbol string, r *schema.Tick) error { return s.ds.WriteTick(symbol, r) }

// WriteEvent writes an events row (see WriteQuote).
func (s *Sink) WriteEvent(symbol string, r *schema.Event) error { return s.ds.WriteEvent(symbol, r) }

// Page journals a page a dataset file cut (storage.Tap). It runs inside
// the dataset's call, so it takes the low bound kept from the last sync.
func (s *Sink) Page(_ uint64, t schema.Table, symbol string, p *pqw.Page) {
	if s.j.NeedsLow() {
		s.j.MarkLow(s.low)
	}
	s.j.AppendPage(symbol, t, p)
}

// Quote, DOM, Tick and Event journal the rows of an abandoned file that
// were in no page (storage.Tap).
func (s *Sink) Quote(symbol string, r *schema.Quote) { s.tailRow().Quote(symbol, r) }
func (s *Sink) DOM(symbol string, r *schema.DOM)     { s.tailRow().DOM(symbol, r) }
func (s *Sink) Tick(symbol string, r *schema.Tick)   { s.tailRow().Tick(symbol, r) }
func (s *Sink) Event(symbol string, r *schema.Event) { s.tailRow().Event(symbol, r) }

func (s *Sink) tailRow() tailRows {
	if s.j.NeedsLow() {
		s.j.MarkLow(s.low)
	}
	return tailRows{s.j}
}

// takeTails journals the rows of the open files not in a page yet (the
// journal calls it first when it syncs).
func (s *Sink) takeTails() {
	if s.closed {
		return
	}
	s.low = s.lowNow()
	if s.j.NeedsLow() {
		s.j.MarkLow(s.low)
	}
	s.ds.Tails(tailRows{s.j})
}

// lowNow is the oldest file a row written from now on may go to: the
// oldest unfinished, or the next one when every file is finished.
func (s *Sink) lowNow() uint64 {
	low := s.ds.OldestUnfinished()
	if low == noneUnfinished {
		low = s.ds.FileCounter() + 1
	}
	return low
}

// Roll has the journal made durable (the writer calls it every
// --sync-interval), rolls the dataset's files, then has an old or big
// segment sealed and the segments whose rows are all finalised released.
// The journal's part runs on its flusher without the writer waiting:
// its error is the previous Roll's (see Journal.BeginRoll).
func (s *Sink) Roll(now time.Time) error {
	jerr := s.j.BeginRoll()
	derr := s.ds.Roll(now)
	s.low = s.lowNow()
	live, bound := s.liveLow()
	s.j.EndRoll(s.ds.FileCounter(), s.ds.OldestUnfinished(), live, bound)
	return errors.Join(jerr, derr)
}

// liveLow is the oldest file the dataset has open when it abandoned some
// (FileCounter+1 when none is open): the segments below it are held only
// for abandoned files. ok is false when no file was abandoned, or when a
// file waits for its finalise to be retried (its rows may still need the
// journal: nothing is bounded then).
func (s *Sink) liveLow() (uint64, bool) {
	st := s.ds.Stats()
	if st.FilesAbandoned == 0 || st.FilesPending > 0 {
		return 0, false
	}
	low := s.ds.FileCounter() + 1
	for _, p := range s.ds.OpenFiles() {
		_, _, n, _, ok := storage.ParseFileName(filepath.Base(p))
		if !ok {
			return 0, false
		}
		low = min(low, n)
	}
	return low, true
}

// Close makes the journal durable, then finalises every file of the
// dataset. When every row is in a finalised file, the run's journal is
// removed; otherwise it stays for the next start to replay.
func (s *Sink) Close() error {
	jerr := s.j.Sync()
	s.closed = true // the dataset's files are finalised: no tail to take
	derr := s.ds.Close()
	if derr == nil && s.ds.OldestUnfinished() == noneUnfinished {
		if err := s.j.Remove(); err != nil {
			return fmt.Errorf("close journal: %w", err)
		}
		return nil
	}
	cerr := s.j.Close()
	if jerr != nil || cerr != nil {
		return errors.Join(derr, fmt.Errorf("close journal: %w", errors.Join(jerr, cerr)))
	}
	return derr
}

const noneUnfinished = ^uint64(0)
