package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// Sink is a storage.Dataset with a journal in front of it: every row the
// dataset takes is also appended to the journal, each Roll makes the
// journal durable, and segments are released as the dataset finalises
// their files. It has the shape of capture.Sink; only the writer
// goroutine uses it.
type Sink struct {
	ds *storage.Dataset
	j  *Journal
}

// NewSink journals the rows written to ds into j.
func NewSink(ds *storage.Dataset, j *Journal) *Sink { return &Sink{ds: ds, j: j} }

// Dataset is the dataset behind the sink.
func (s *Sink) Dataset() *storage.Dataset { return s.ds }

// Journal is the journal in front of the dataset.
func (s *Sink) Journal() *Journal { return s.j }

// WriteQuote writes a quotes row to the dataset and, once taken, to the
// journal. A row the dataset refuses is not journaled (the writer
// records it as a write_error gap).
func (s *Sink) WriteQuote(symbol string, r *schema.Quote) error {
	if s.j.NeedsLow() {
		s.markLow()
	}
	if err := s.ds.WriteQuote(symbol, r); err != nil {
		return err
	}
	s.j.AppendQuote(symbol, r)
	return nil
}

// WriteDOM writes a dom row (see WriteQuote).
func (s *Sink) WriteDOM(symbol string, r *schema.DOM) error {
	if s.j.NeedsLow() {
		s.markLow()
	}
	if err := s.ds.WriteDOM(symbol, r); err != nil {
		return err
	}
	s.j.AppendDOM(symbol, r)
	return nil
}

// WriteTick writes a ticks row (see WriteQuote).
func (s *Sink) WriteTick(symbol string, r *schema.Tick) error {
	if s.j.NeedsLow() {
		s.markLow()
	}
	if err := s.ds.WriteTick(symbol, r); err != nil {
		return err
	}
	s.j.AppendTick(symbol, r)
	return nil
}

// WriteEvent writes an events row (see WriteQuote).
func (s *Sink) WriteEvent(symbol string, r *schema.Event) error {
	if s.j.NeedsLow() {
		s.markLow()
	}
	if err := s.ds.WriteEvent(symbol, r); err != nil {
		return err
	}
	s.j.AppendEvent(symbol, r)
	return nil
}

// markLow marks the journal's block with the oldest file a row may go
// to: the oldest unfinished, or the next one when every file is finished.
func (s *Sink) markLow() {
	low := s.ds.OldestUnfinished()
	if low == noneUnfinished {
		low = s.ds.FileCounter() + 1
	}
	s.j.MarkLow(low)
}

// Roll has the journal made durable (the writer calls it every
// --sync-interval), rolls the dataset's files, then has an old or big
// segment sealed and the segments whose rows are all finalised released.
// The journal's part runs on its flusher without the writer waiting:
// its error is the previous Roll's (see Journal.BeginRoll).
func (s *Sink) Roll(now time.Time) error {
	jerr := s.j.BeginRoll()
	derr := s.ds.Roll(now)
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
