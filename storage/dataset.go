// Package storage writes mdcap's Hive-partitioned Parquet dataset: one
// open file per (table, UTC date of recv_ts, symbol), rolled on age, size
// and date, finalised atomically; and reads it back for inspect and
// verify-gaps.
package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage/pqw"
)

// maxPooled bounds the idle writers kept per table for reuse.
const maxPooled = 32

// pooledBufferBytes bounds the column-buffer memory an idle pooled
// writer keeps: a writer that held more drops its buffers.
const pooledBufferBytes = 64 << 10

// maxRollsPerCall bounds the files one Roll finalises by age (a footer
// each on the writer; their fsyncs run on the finaliser, which the
// writer never waits for): files opened together (the 1,500 of 500
// symbols) roll over the next calls instead of taking the writer's CPU
// at once, and then stay spread out.
const maxRollsPerCall = 32

// retireEvery is the number of Writes between two files of an earlier
// date closed by the writer (a footer each, about 0.5 ms of CPU): the
// 1,500 files of 500 symbols that change date at midnight UTC are closed
// along the stream of rows (over about 3 s at 1 M rows/s, 0.25 µs a
// row) and by Roll (maxRollsPerCall a call: under a minute at any rate)
// instead of all at once.
const retireEvery = 2048

// maxRowGroups finalises a file before it holds more row groups than the
// format can number (small row groups written under MaxBufferedBytes
// could get there in a long-lived file).
const maxRowGroups = pqw.MaxRowGroups - 1

// Stats are a Dataset's counters.
type Stats struct {
	RowsWritten    [schema.NumTables]int64 // rows accepted, per table
	FilesFinalised int64                   // files visible under their final name
	BytesFinalised int64                   // their bytes
	FilesOpen      int                     // files taking rows now
	// FilesRetiring are files of an earlier UTC date that take no more
	// rows and wait for the writer to close them (their rows are still in
	// memory; see Dataset.retire). They are unfinished and listed by
	// OpenFiles.
	FilesRetiring int
	// FilesPending are files that take no more rows and are not yet
	// finalised: their finalise failed and will be retried, or it is
	// under way on the finaliser (FilesFinalising of them, FilesQueued of
	// which wait in its queue, not yet started).
	FilesPending    int
	FilesFinalising int
	FilesQueued     int
	FilesAbandoned  int64 // files given up (their rows are counted in RowsLost)
	RowsLost        int64
	WriteErrors     int64 // failed writes, syncs, renames (each retry that fails counts)
	TempFilesSwept  int   // this writer's leftover temporary files removed by Open
	// TempFilesSalvaged counts leftover temporary files of this writer
	// that were complete Parquet files: Open finalised them instead.
	TempFilesSalvaged int
	// PagesShed and RowGroupsShed count pages encoded and row groups
	// written early because the memory of the Dataset's buffers went over
	// MaxBufferedBytes.
	PagesShed     int64
	RowGroupsShed int64
	// BufferedBytes is the memory the open files' column buffers hold as
	// the budget counts it (see Config.MaxBufferedBytes).
	BufferedBytes int64
}

type fileKey struct {
	table  schema.Table
	symbol string
}

// Dataset writes rows into a dataset root. It is not safe for concurrent
// use: one goroutine owns it. The slow steps of finalising a file (its
// fsync, rename and folder fsyncs) run on a finaliser goroutine the
// Dataset starts in Open and stops in Close; a file is unfinished
// (OldestUnfinished, Stats.FilesPending) until they are done. Rows are copied during a Write call, so the
// caller may reuse a row (and its slices) after return.
//
// A Write returns an error only when its row was not taken (closed
// dataset, bad symbol, a file that cannot be created, a file whose
// parquet stream broke: then the error counts the rows lost). Failures
// that concern rows already taken (finalising a file, a disk refusing
// writes while the bytes are kept) are logged, counted in Stats and
// returned by the next Roll or Close.
//
// Rows reach disk in row groups; until a file is finalised it lives under
// a temporary dot-name, so a crash loses the open files' rows (a journal
// in front of the Dataset is the place to make them durable sooner).
type Dataset struct {
	cfg     Config
	fs      FS
	log     zerolog.Logger
	open    map[fileKey]*partFile
	head    *partFile // most recently written
	tail    *partFile // least recently written
	pending []*partFile
	// deferred are errors about rows already taken (finalising another
	// file, a size roll), reported by the next Roll or Close.
	deferred []error
	pool     [schema.NumTables][]rowSink
	dirs     map[string]struct{}
	// unsynced are folders that got a new subfolder whose entry is not yet
	// durable: the first file finalised below them fsyncs them.
	unsynced *dirMarks
	// fin runs the slow finalise steps; inflight are the files handed to
	// it whose result is not yet collected (unfinished until then).
	fin      *finaliser
	inflight []*partFile
	// retired are the files of an earlier date not yet closed, oldest
	// first (entries finalised meanwhile have retiring unset and are
	// skipped); nRetiring counts those still retiring; sinceRetire counts
	// the Writes since one was last closed.
	retired     []*partFile
	nRetiring   int
	sinceRetire int
	counter     uint64
	sinks       *sinks
	// buffered is the sum of the open files' column-buffer footprints
	// (pqw.Writer.Footprint), or more (shed resynchronises it): over
	// MaxBufferedBytes, the largest is shed.
	buffered int64
	stats    Stats
	closed   bool
	tap      Tap // a journal's (tap.go)
	// abandonedLow is the number of the oldest abandoned file
	// (math.MaxUint64: none).
	abandonedLow uint64
}

// Open prepares a dataset root for writing: it creates the root and
// deals with the temporary files this writer id left behind (other writer
// ids may share the root; their files are not touched): a complete one is
// finalised, an incomplete one removed.
func Open(cfg Config) (*Dataset, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	cfg.setDefaults()
	sk, err := newSinks()
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	if cfg.RunID == "" {
		cfg.RunID = cfg.WriterID + "-" + cfg.Now().UTC().Format("20060102T150405.000000000Z")
	}
	d := &Dataset{
		cfg:          cfg,
		fs:           cfg.FS,
		log:          cfg.Logger.With().Str("component", "storage").Logger(),
		open:         make(map[fileKey]*partFile),
		dirs:         make(map[string]struct{}),
		unsynced:     newDirMarks(),
		sinks:        sk,
		counter:      cfg.FirstCounter,
		abandonedLow: math.MaxUint64,
	}
	if err := d.fs.MkdirAll(cfg.Root, 0o755); err != nil {
		return nil, opError("mkdir", cfg.Root, err)
	}
	n, err := d.sweep()
	d.stats.TempFilesSwept = n
	if err != nil {
		return nil, err
	}
	d.fin = newFinaliser(d.fs, d.log, d.unsynced)
	return d, nil
}

// RunID is the run id that goes into file names.
func (d *Dataset) RunID() string { return d.cfg.RunID }

// WriteQuote adds a row to the quotes table.
func (d *Dataset) WriteQuote(symbol string, r *schema.Quote) error {
	pf, err := d.fileFor(schema.TableQuotes, symbol, r.RecvTS)
	if err != nil {
		return err
	}
	s := pf.sink
	b := s.Footprint()
	s.AppendQuote(r)
	return d.wrote(pf, s.Footprint()-b)
}

// WriteDOM adds a row to the dom table.
func (d *Dataset) WriteDOM(symbol string, r *schema.DOM) error {
	pf, err := d.fileFor(schema.TableDOM, symbol, r.RecvTS)
	if err != nil {
		return err
	}
	s := pf.sink
	b := s.Footprint()
	s.AppendDOM(r)
	return d.wrote(pf, s.Footprint()-b)
}

// WriteTick adds a row to the ticks table.
func (d *Dataset) WriteTick(symbol string, r *schema.Tick) error {
	pf, err := d.fileFor(schema.TableTicks, symbol, r.RecvTS)
	if err != nil {
		return err
	}
	s := pf.sink
	b := s.Footprint()
	s.AppendTick(r)
	return d.wrote(pf, s.Footprint()-b)
}

// WriteEvent adds a row to the events table.
func (d *Dataset) WriteEvent(symbol string, r *schema.Event) error {
	pf, err := d.fileFor(schema.TableEvents, symbol, r.RecvTS)
	if err != nil {
		return err
	}
	s := pf.sink
	b := s.Footprint()
	s.AppendEvent(r)
	return d.wrote(pf, s.Footprint()-b)
}

// fileFor returns the open file that takes a row of table t for symbol at
// recvTS, retiring the symbol's file when the UTC date changed (closed
// later, see retire) and making room under MaxOpenFiles.
func (d *Dataset) fileFor(t schema.Table, symbol string, recvTS int64) (*partFile, error) {
	if d.closed {
		return nil, ErrClosed
	}
	if symbol == "" {
		return nil, fmt.Errorf("storage: write %s: empty symbol", t)
	}
	if d.nRetiring > 0 {
		d.retireSome()
	}
	day := dayOf(recvTS)
	// Most rows go to the file of the row before: skip the map then.
	if pf := d.head; pf != nil && pf.table == t && pf.day == day && pf.symbol == symbol {
		pf.rows++
		d.stats.RowsWritten[t]++
		return pf, nil
	}
	key := fileKey{t, symbol}
	pf := d.open[key]
	if pf != nil && pf.day == day {
		d.touch(pf)
		pf.rows++
		d.stats.RowsWritten[t]++
		return pf, nil
	}
	var errs []error
	if pf != nil { // a new UTC date: a file never spans two dates
		d.retire(pf)
	}
	// A retiring file at the tail is closed too: its footer is due.
	for len(d.open) >= d.cfg.MaxOpenFiles && d.tail != nil {
		errs = append(errs, d.finalise(d.tail))
	}
	pf, err := d.openPartFile(t, symbol, day)
	if err != nil {
		d.stats.WriteErrors++
		d.stats.RowsLost++
		d.deferErr(errs...)
		return nil, err
	}
	d.open[key] = pf
	d.pushFront(pf)
	d.buffered += pf.sink.Footprint() // a pooled writer's buffers
	pf.rows++
	d.stats.RowsWritten[t]++
	// This row is taken; errors finalising other files reach the owner
	// through the next Roll or Close.
	d.deferErr(errs...)
	return pf, nil
}

// wrote completes a Write that grew pf's footprint by grew bytes: writes
// the file's row group once it holds RowGroupRows rows, rolls the file
// once its size reaches RollSize, and keeps the memory of the Dataset's
// buffers under MaxBufferedBytes.
func (d *Dataset) wrote(pf *partFile, grew int64) error {
	d.buffered += grew
	s := pf.sink
	if s.Rows() >= d.cfg.RowGroupRows {
		if err := d.flushGroup(pf); err != nil {
			return err
		}
	}
	if s.Size() >= d.cfg.RollSize || s.RowGroups() >= maxRowGroups {
		// The row is in the file whatever happens to its finalise.
		d.deferErr(d.finalise(pf))
		return nil
	}
	if d.buffered > d.cfg.MaxBufferedBytes {
		d.shed()
	}
	return nil
}

// flushGroup writes the rows a file buffers as one row group; a failure
// breaks the file's stream, which is then abandoned.
func (d *Dataset) flushGroup(pf *partFile) error {
	d.buffered -= pf.sink.Footprint()
	if err := pf.sink.Flush(); err != nil {
		d.stats.WriteErrors++
		return d.abandon(pf, err)
	}
	d.buffered += pf.sink.Footprint()
	return nil
}

// shed brings the memory of the open files' buffers (their footprints,
// capacity included) under MaxBufferedBytes. It takes the open file whose
// buffers take the most: when most of its rows are its page being filled
// (held uncompressed), it encodes and compresses the page into the open
// row group, which keeps row groups long, and drops the page's buffers;
// otherwise it writes the row group. A file keeps the buffers its rows no
// longer use only within its share of the budget (no regrowing from
// nothing, no garbage, while there are few files); a file holding no rows
// but buffers over its share drops them. It goes on until the total fits.
// With few files nothing is shed and pages and row groups keep their
// sizes; with many, pages shrink first, then row groups. Errors concern
// rows already taken: the next Roll or Close returns them.
func (d *Dataset) shed() {
	share := d.cfg.MaxBufferedBytes / int64(max(len(d.open), 1))
	for {
		var total, most int64
		var big *partFile
		for pf := d.head; pf != nil; pf = pf.next {
			b := pf.sink.Footprint()
			total += b
			if b > most {
				big, most = pf, b
			}
		}
		d.buffered = total
		if total <= d.cfg.MaxBufferedBytes || big == nil {
			return
		}
		s := big.sink
		switch {
		case s.Rows() == 0: // buffers without rows
			s.Release()
		case 2*s.PageBytes() > s.Buffered():
			s.EncodePage()
			s.Release() // the emptied page's buffers
			d.stats.PagesShed++
		default:
			if err := d.flushGroup(big); err != nil {
				d.deferErr(err)
				continue
			}
			d.stats.RowGroupsShed++
		}
		if s.Footprint() > share {
			s.Release()
		}
	}
}

// defer keeps errors about rows already taken for the next Roll or Close.
func (d *Dataset) deferErr(errs ...error) {
	for _, err := range errs {
		if err != nil {
			d.deferred = append(d.deferred, err)
		}
	}
}

// takeDeferred returns and forgets the kept errors.
func (d *Dataset) takeDeferred() error {
	err := errors.Join(d.deferred...)
	d.deferred = nil
	return err
}

// retire takes a file whose symbol's rows reached a new UTC date out of
// the files taking rows, without closing it yet: closing the 1,500 files
// of 500 symbols in the Writes that cross midnight would take the writer
// about a second at once. It stays in the list of open files (shed
// counts its buffers under MaxBufferedBytes, Tails passes its rows on,
// OldestUnfinished holds at it) until retireSome, Roll, the cap on open
// files or Close finalises it.
func (d *Dataset) retire(pf *partFile) {
	delete(d.open, fileKey{pf.table, pf.symbol})
	pf.retiring = true
	d.nRetiring++
	d.retired = append(d.retired, pf)
}

// retireSome closes one retiring file every retireEvery Writes.
func (d *Dataset) retireSome() {
	if d.sinceRetire++; d.sinceRetire < retireEvery {
		return
	}
	d.sinceRetire = 0
	d.deferErr(d.closeRetired(1))
}

// closeRetired finalises up to n retiring files, oldest first.
func (d *Dataset) closeRetired(n int) error {
	var errs []error
	for n > 0 && len(d.retired) > 0 {
		pf := d.retired[0]
		d.retired[0] = nil
		d.retired = d.retired[1:]
		if !pf.retiring {
			continue // finalised meanwhile
		}
		errs = append(errs, d.finalise(pf))
		n--
	}
	if len(d.retired) == 0 {
		d.retired = nil
	}
	return errors.Join(errs...)
}

// drop takes a file out of the list of open files (and out of the files
// taking rows or retiring).
func (d *Dataset) drop(pf *partFile) {
	d.unlink(pf)
	if key := (fileKey{pf.table, pf.symbol}); d.open[key] == pf {
		delete(d.open, key)
	}
	if pf.retiring {
		pf.retiring = false
		if d.nRetiring--; d.nRetiring == 0 {
			clear(d.retired) // entries finalised by Roll, the cap or Close
			d.retired = nil
		}
	}
}

// listed reports whether a file is in the list of open files.
func (d *Dataset) listed(pf *partFile) bool {
	return pf.prev != nil || pf.next != nil || d.head == pf
}

// finalise takes pf out of the open files and finalises it; on failure it
// joins the files to retry.
func (d *Dataset) finalise(pf *partFile) error {
	d.collect()
	d.drop(pf)
	err := d.finish(pf)
	if err == nil {
		return nil
	}
	d.stats.WriteErrors++
	if pf.stage == stageOpen || pf.out.broken != nil {
		return d.abandon(pf, err)
	}
	d.pending = append(d.pending, pf)
	d.log.Error().Err(err).Str("path", pf.temp).Msg("finalise failed; will retry")
	return err
}

// abandon gives a file up after its parquet stream broke: the rows it
// held are counted as lost and its temporary file stays for inspection
// (the next Open of this writer id removes it).
func (d *Dataset) abandon(pf *partFile, cause error) error {
	if d.listed(pf) {
		d.drop(pf)
	}
	if d.tap != nil && pf.sink != nil {
		// The rows no page passed on go to the journal now: it keeps them
		// for the next start (the gap written for them stays too).
		pf.sink.Tail(pf.symbol, d.tap)
	}
	pf.sink = nil // a broken writer is not reused
	if pf.stage <= stageClose {
		_ = pf.out.f.Close()
	}
	d.stats.FilesAbandoned++
	d.abandonedLow = min(d.abandonedLow, pf.id)
	d.stats.RowsLost += pf.rows
	d.log.Error().Err(cause).Str("path", pf.temp).Int64("rows_lost", pf.rows).Msg("file abandoned")
	return fmt.Errorf("storage: abandon %s (%d rows lost): %w", pf.temp, pf.rows, cause)
}

// Roll finalises the retiring files of an earlier date and then the
// files opened RollInterval or longer before now (at most
// maxRollsPerCall of them in all, oldest retiring and least recently
// written first; the rest on the next calls), retries the finalising that failed before, and
// retries the writes a full disk refused. The owner calls it
// periodically (capture: every second).
func (d *Dataset) Roll(now time.Time) error {
	if d.closed {
		return ErrClosed
	}
	// Retry earlier failures first, so that a file failing now waits for
	// the next call.
	d.collect()
	errs := []error{d.takeDeferred(), d.retryPending()}
	rolled := min(d.nRetiring, maxRollsPerCall)
	errs = append(errs, d.closeRetired(rolled))
	for pf := d.tail; pf != nil; {
		prev := pf.prev
		switch {
		case now.Sub(pf.opened) >= d.cfg.RollInterval && rolled < maxRollsPerCall:
			rolled++
			errs = append(errs, d.finalise(pf))
		case len(pf.out.pending) > 0:
			if err := pf.out.drain(); err != nil {
				d.stats.WriteErrors++
				errs = append(errs, err)
			}
		}
		pf = prev
	}
	return errors.Join(errs...)
}

// retryPending resumes the finalising of files that failed before.
func (d *Dataset) retryPending() error {
	var errs []error
	keep := d.pending[:0]
	for _, pf := range d.pending {
		if err := d.finish(pf); err != nil {
			d.stats.WriteErrors++
			errs = append(errs, err)
			keep = append(keep, pf)
		}
	}
	clear(d.pending[len(keep):])
	d.pending = keep
	return errors.Join(errs...)
}

// Close finalises every open file, waits for every finalisation, retries
// the failed ones once and stops the finaliser. Files it still cannot
// finalise stay under their temporary names and the error says which.
func (d *Dataset) Close() error {
	if d.closed {
		return nil
	}
	var errs []error
	for d.tail != nil {
		errs = append(errs, d.finalise(d.tail))
	}
	d.WaitFinalised()
	errs = append(errs, d.retryPending())
	d.WaitFinalised()
	d.fin.stop()
	errs = append(errs, d.takeDeferred())
	d.closed = true
	d.buffered = 0
	d.retired = nil
	for _, pf := range d.pending {
		if pf.stage <= stageClose {
			_ = pf.out.f.Close()
		}
	}
	return errors.Join(errs...)
}

// Stats returns the counters.
func (d *Dataset) Stats() Stats {
	d.collect()
	s := d.stats
	s.FilesFinalising = len(d.inflight)
	s.FilesQueued = min(d.fin.queued(), len(d.inflight))
	s.FilesOpen = len(d.open)
	s.FilesRetiring = d.nRetiring
	s.FilesPending = len(d.pending) + len(d.inflight)
	s.BufferedBytes = d.buffered
	return s
}

// FileCounter is the number of the last file opened: every row taken so
// far is in a file numbered at most this.
func (d *Dataset) FileCounter() uint64 { return d.counter }

// OldestUnfinished is the number of the oldest file still open, being
// finalised (until its rename and folder fsync are done), waiting for its
// finalise to be retried, or abandoned, or math.MaxUint64 when
// there is none: every row of a file numbered below it is in a finalised
// file. A journal releases what this watermark has passed, so it keeps
// the rows of an abandoned file for the next start to replay.
func (d *Dataset) OldestUnfinished() uint64 {
	d.collect()
	low := d.abandonedLow
	for pf := d.head; pf != nil; pf = pf.next {
		low = min(low, pf.id)
	}
	for _, pf := range d.inflight {
		low = min(low, pf.id)
	}
	for _, pf := range d.pending {
		low = min(low, pf.id)
	}
	return low
}

// OpenFiles lists the temporary paths of the files not closed yet: those
// taking rows now and those retiring (of an earlier date).
func (d *Dataset) OpenFiles() []string {
	var out []string
	for pf := d.head; pf != nil; pf = pf.next {
		out = append(out, pf.temp)
	}
	return out
}

// sweep removes this writer id's leftover temporary files under the root.
func (d *Dataset) sweep() (int, error) {
	n := 0
	var errs []error
	for t := schema.Table(0); t < schema.NumTables; t++ {
		tdir := filepath.Join(d.cfg.Root, t.String())
		dates, err := d.fs.ReadDir(tdir)
		if err != nil {
			continue // no such table yet
		}
		for _, de := range dates {
			if !de.IsDir() {
				continue
			}
			ddir := filepath.Join(tdir, de.Name())
			syms, err := d.fs.ReadDir(ddir)
			if err != nil {
				errs = append(errs, opError("read dir", ddir, err))
				continue
			}
			for _, se := range syms {
				if !se.IsDir() {
					continue
				}
				sdir := filepath.Join(ddir, se.Name())
				files, err := d.fs.ReadDir(sdir)
				if err != nil {
					errs = append(errs, opError("read dir", sdir, err))
					continue
				}
				for _, fe := range files {
					if !tempOfWriter(fe.Name(), d.cfg.WriterID) {
						continue
					}
					p := filepath.Join(sdir, fe.Name())
					if d.salvage(p) {
						continue
					}
					if err := d.fs.Remove(p); err != nil {
						errs = append(errs, opError("remove", p, err))
						continue
					}
					n++
					d.log.Warn().Str("path", p).Msg("removed leftover temporary file")
				}
			}
		}
	}
	return n, errors.Join(errs...)
}

// LRU list of open files.

func (d *Dataset) pushFront(pf *partFile) {
	pf.prev, pf.next = nil, d.head
	if d.head != nil {
		d.head.prev = pf
	}
	d.head = pf
	if d.tail == nil {
		d.tail = pf
	}
}

func (d *Dataset) unlink(pf *partFile) {
	if pf.prev != nil {
		pf.prev.next = pf.next
	} else if d.head == pf {
		d.head = pf.next
	}
	if pf.next != nil {
		pf.next.prev = pf.prev
	} else if d.tail == pf {
		d.tail = pf.prev
	}
	pf.prev, pf.next = nil, nil
}

func (d *Dataset) touch(pf *partFile) {
	if d.head == pf {
		return
	}
	d.unlink(pf)
	d.pushFront(pf)
}

// salvage finishes a leftover temporary file that is complete (its footer
// reads back: a finalise that failed after the footer, or a crash between
// footer and rename): it is fsynced and renamed to its final name, so its
// rows are kept. It reports whether it did.
func (d *Dataset) salvage(tmp string) bool {
	pf, err := OpenParquet(tmp)
	if err != nil {
		return false
	}
	_, merr := ReadMeta(pf)
	pf.Close()
	if merr != nil {
		return false
	}
	dir, name := filepath.Split(tmp)
	final := filepath.Join(dir, strings.TrimSuffix(strings.TrimPrefix(name, "."), tempExt))
	if _, err := d.fs.Lstat(final); err == nil {
		return false
	}
	f, err := d.fs.OpenFile(tmp, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	serr := f.Sync()
	f.Close()
	if serr != nil {
		return false
	}
	if err := d.fs.Rename(tmp, final); err != nil {
		return false
	}
	if err := d.fs.SyncDir(dir); err != nil {
		d.log.Warn().Err(err).Str("path", dir).Msg("sync dir after salvage")
	}
	d.stats.TempFilesSalvaged++
	d.log.Warn().Str("path", final).Msg("completed leftover temporary file kept")
	return true
}
