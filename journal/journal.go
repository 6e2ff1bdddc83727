package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/storage"
)

// Names under the dataset root.
const (
	Dir           = ".journal"
	QuarantineDir = ".quarantine"
	metaName      = "run.json"
	segExt        = ".seg"
	magic         = "MDCAPJ1\n"
	frameHeader   = 8
)

// Defaults of Config.
const (
	DefaultSegmentSize = 64 << 20
	DefaultSegmentAge  = time.Minute
	DefaultMaxPending  = 64 << 20
	DefaultMaxHeld     = 1 << 30
	// blockSize is how many bytes of records go into one frame.
	blockSize = 256 << 10
	// maxFrame bounds a frame's payload when reading (a larger length is
	// corruption, not a frame).
	maxFrame = 16 << 20
	// frameRaw, set in a frame's length word, says its payload is the
	// records as they are; clear, an S2 block of them (the first
	// recorders compressed every frame).
	frameRaw = 1 << 31
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Config configures a run's Journal.
type Config struct {
	Root     string // dataset root
	WriterID string
	RunID    string
	Start    time.Time // the run's start, kept in run.json
	// Owed are the crash_recovery gaps the run inherited (symbol → gap
	// start, Unix ns), kept in run.json: if this run dies too before it
	// stored data of a symbol, the gap it owes starts there.
	Owed map[string]int64
	// SegmentSize and SegmentAge seal the current segment once it is this
	// big or old (defaults 64 MiB, 1 min); only sealed segments are
	// released.
	SegmentSize int64
	SegmentAge  time.Duration
	// MaxPending bounds the framed bytes kept in memory while the disk
	// refuses journal writes; past it they are dropped (and counted): the
	// rows are still in the open Parquet files, only their early
	// durability is lost.
	MaxPending int
	// MaxHeld bounds the bytes of sealed segments kept only for the rows
	// of files the dataset abandoned (default 1 GiB; see Journal.Bound).
	MaxHeld int64
	// Recovery is what the recovery at start did, for the metrics.
	Recovery Recovered
	FS       storage.FS // nil = storage.OSFS
	Logger   zerolog.Logger
	Now      func() time.Time
}

// Stats are a journal's counters and state.
type Stats struct {
	Records          int64
	Frames           int64
	BytesWritten     int64
	Syncs            int64
	SyncNanos        int64 // time spent in fsync, in total
	LastSyncNanos    int64 // the last fsync's
	WriteErrors      int64
	SyncErrors       int64
	DroppedBytes     int64 // framed bytes given up while the disk refused them
	SegmentsReleased int64
	// HeldSegmentsDropped and HeldBytesDropped count the segments given
	// up past Config.MaxHeld (rows of abandoned files, already a gap).
	HeldSegmentsDropped int64
	HeldBytesDropped    int64
	// LiveSegments and LiveBytes are the segments on disk now (the
	// current one included) and their bytes.
	LiveSegments int64
	LiveBytes    int64
}

// Journal appends rows to the segments of one run. Only the writer
// goroutine calls its methods; the files are written by the journal's
// flusher goroutine (flusher.go), which owns the fields marked so.
type Journal struct {
	cfg Config
	fs  storage.FS
	log zerolog.Logger
	dir string

	// The writer goroutine's.
	cur     *chunk   // rows not yet handed to the flusher (chunk.go)
	syms    symTable // the symbols of the rows, numbered
	records int64
	// pageRows are the rows of records that journaled as pages (the
	// others were copied row by row).
	pageRows int64
	// Every row of the chunk being filled went to a dataset file
	// numbered at least blockLow, once lowSet (see MarkLow).
	blockLow uint64
	lowSet   bool
	// tails journals the rows a dataset holds that are in no page yet
	// (Sink.takeTails): Sync and BeginRoll call it first.
	tails   func()
	running bool         // the flusher runs
	rolling []chan error // the outcomes of the roll work queued
	closed  bool
	reqs    chan request
	free    chan *chunk // chunks the flusher is done with
	stopped chan struct{}

	// The flusher's.
	enc      encoder  // the block being encoded
	encSyms  []string // the writer's symbol table, as the chunks tell it
	frameLow uint64   // the bound of the block's rows (the low of its first row's chunk)
	seg      *segment
	sealed   []sealedSeg
	n        uint64 // number of the last segment created
	pending  []byte // framed bytes not yet written
	// Every row of the pending frames went to a file numbered at least
	// pendLow; a segment's name keeps the bound of its first frame (0:
	// not known).
	pendLow uint64
	stats   Stats
	pub     published // stats for other goroutines
}

type segment struct {
	f      storage.File
	path   string
	size   int64
	opened time.Time
	dirty  bool // written since the last fsync
}

type sealedSeg struct {
	path string
	size int64
	hi   uint64 // every row of it went to a dataset file numbered ≤ hi
}

// runMeta is run.json.
type runMeta struct {
	WriterID string           `json:"writer_id"`
	RunID    string           `json:"run_id"`
	Start    time.Time        `json:"start"`
	Owed     map[string]int64 `json:"owed,omitempty"`
}

// RunDir is the folder of a run's journal.
func RunDir(root, writerID, runID string) string {
	return filepath.Join(root, Dir, storage.EncodeName(writerID), storage.EncodeName(runID))
}

// Open creates the run's journal folder and its run.json, durably: from
// now on a crash leaves a journal that the next start recovers.
func Open(cfg Config) (*Journal, error) {
	if cfg.Root == "" || cfg.WriterID == "" || cfg.RunID == "" {
		return nil, errors.New("open journal: Root, WriterID and RunID are required")
	}
	if cfg.SegmentSize <= 0 {
		cfg.SegmentSize = DefaultSegmentSize
	}
	if cfg.SegmentAge <= 0 {
		cfg.SegmentAge = DefaultSegmentAge
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	if cfg.FS == nil {
		cfg.FS = storage.OSFS{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	j := &Journal{cfg: cfg, fs: cfg.FS, dir: RunDir(cfg.Root, cfg.WriterID, cfg.RunID),
		log: cfg.Logger.With().Str("component", "journal").Logger()}
	if err := j.fs.MkdirAll(j.dir, 0o755); err != nil {
		return nil, fmt.Errorf("open journal: mkdir %s: %w", j.dir, err)
	}
	meta, _ := json.Marshal(runMeta{WriterID: cfg.WriterID, RunID: cfg.RunID, Start: cfg.Start.UTC(), Owed: cfg.Owed})
	if err := writeFileSync(j.fs, filepath.Join(j.dir, metaName), append(meta, '\n')); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	// run dir -> writer dir -> .journal -> root
	for p, i := j.dir, 0; i < 4; p, i = filepath.Dir(p), i+1 {
		if err := j.fs.SyncDir(p); err != nil {
			return nil, fmt.Errorf("open journal: sync dir %s: %w", p, err)
		}
	}
	j.publish()
	j.start()
	return j, nil
}

// writeFileSync creates name with data and fsyncs it.
func writeFileSync(fsys storage.FS, name string, data []byte) error {
	f, err := fsys.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return f.Close()
}

// AppendQuote journals a quotes row: it copies it into the chunk being
// filled (chunk.go); the flusher encodes it.
func (j *Journal) AppendQuote(sym string, r *schema.Quote) {
	c := j.cur
	x := c.next()
	x.sym = j.syms.index(sym, c)
	c.copyQuote(x, r)
	j.appended()
}

// AppendDOM journals a dom row.
func (j *Journal) AppendDOM(sym string, r *schema.DOM) {
	c := j.cur
	x := c.next()
	x.sym = j.syms.index(sym, c)
	c.copyDOM(x, r)
	j.appended()
}

// AppendTick journals a ticks row.
func (j *Journal) AppendTick(sym string, r *schema.Tick) {
	c := j.cur
	x := c.next()
	x.sym = j.syms.index(sym, c)
	c.copyTick(x, r)
	j.appended()
}

// AppendEvent journals an events row.
func (j *Journal) AppendEvent(sym string, r *schema.Event) {
	c := j.cur
	x := c.next()
	x.sym = j.syms.index(sym, c)
	c.copyEvent(x, r)
	j.appended()
}

func (j *Journal) appended() {
	j.records++
	if j.cur.full() {
		j.handOff()
	}
}

// frame appends a block of records to pending as a frame (flusher). The
// records go uncompressed: the delta encoding already makes them small
// (about 31 B per row of a busy feed, against 16 with S2), S2 cost as
// much CPU as the encoding itself, and a journal lives about a minute
// before it is deleted.
func (j *Journal) frame(block []byte, low uint64) {
	if len(j.pending) == 0 {
		j.pendLow = low
	} // else the older frames' bound, lower or equal: the watermark only rises
	j.pending = binary.LittleEndian.AppendUint32(j.pending, uint32(len(block))|frameRaw)
	j.pending = binary.LittleEndian.AppendUint32(j.pending, crc32.Checksum(block, castagnoli))
	j.pending = append(j.pending, block...)
	j.stats.Frames++
}

// write writes the pending frames to the current segment, creating one
// when needed. On failure the unwritten bytes stay pending (bounded).
func (j *Journal) write() error {
	if len(j.pending) == 0 {
		return nil
	}
	if j.seg == nil {
		if err := j.newSegment(); err != nil {
			j.failedWrite(err)
			return err
		}
	}
	n, err := j.seg.f.Write(j.pending)
	j.seg.size += int64(n)
	j.stats.BytesWritten += int64(n)
	if n > 0 {
		j.seg.dirty = true
	}
	j.pending = j.pending[:copy(j.pending, j.pending[n:])]
	if err == nil {
		return nil
	}
	// The unwritten bytes stay pending and are retried into the same
	// segment, so a frame cut by the failure continues where it stopped.
	j.failedWrite(fmt.Errorf("write journal %s: %w", j.seg.path, err))
	return err
}

func (j *Journal) failedWrite(err error) {
	j.stats.WriteErrors++
	if j.stats.WriteErrors == 1 || j.stats.WriteErrors%100 == 0 {
		j.log.Error().Err(err).Int64("write_errors", j.stats.WriteErrors).Int("pending_bytes", len(j.pending)).
			Msg("journal write failed; keeping the bytes and retrying")
	}
	if len(j.pending) > j.cfg.MaxPending {
		// Give the pending bytes up. The current segment may end in a
		// cut frame (recovery quarantines such a tail): seal it, so that
		// new frames start clean in a new segment.
		j.stats.DroppedBytes += int64(len(j.pending))
		j.log.Error().Int("bytes", len(j.pending)).
			Msg("journal bytes dropped: their rows stay in the open files but lose their early durability")
		j.pending = j.pending[:0]
		j.seal(0)
	}
}

func (j *Journal) newSegment() error {
	j.n++
	path := filepath.Join(j.dir, segName(j.n, j.pendLow))
	f, err := j.fs.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create journal segment %s: %w", path, err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		f.Close()
		_ = j.fs.Remove(path)
		return fmt.Errorf("write journal segment %s: %w", path, err)
	}
	// The segment's folder entry must be durable for its fsyncs to count.
	if err := j.fs.SyncDir(j.dir); err != nil {
		f.Close()
		_ = j.fs.Remove(path)
		return fmt.Errorf("sync dir %s: %w", j.dir, err)
	}
	j.seg = &segment{f: f, path: path, size: int64(len(magic)), opened: j.cfg.Now(), dirty: true}
	return nil
}

// MarkLow gives the dataset's OldestUnfinished as taken at some moment
// before the chunk's next record was written to the dataset (the Sink
// takes it at each sync and roll): once per chunk, the first mark after a
// chunk is handed over is kept (NeedsLow says when). Every row of the
// chunk then went to a file numbered at least low — a file open then, or
// one opened later — and so does every later row (the watermark only
// rises): a block takes the mark of the chunk its first row came from,
// and the segment the block starts is named with it, so that
// recovery opens only the files from there on to tell which journal rows
// are already finalised, however long the run was.
func (j *Journal) MarkLow(low uint64) {
	if !j.lowSet {
		j.blockLow, j.lowSet = low, true
	}
}

// NeedsLow reports whether the next MarkLow is kept.
func (j *Journal) NeedsLow() bool { return !j.lowSet }

// segName is a segment's file name: its number, zero-padded so that names
// sort in order, and the low bound of its rows' files when known.
func segName(n, low uint64) string {
	if low == 0 {
		return fmt.Sprintf("%08d%s", n, segExt)
	}
	return fmt.Sprintf("%08d-%d%s", n, low, segExt)
}

// segLow reads the low bound back from a segment's file name (0: none).
func segLow(name string) uint64 {
	base := strings.TrimSuffix(name, segExt)
	_, l, ok := strings.Cut(base, "-")
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(l, 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// syncDisk frames the block being encoded, writes the pending frames and
// fsyncs the segment (flusher).
func (j *Journal) syncDisk() error {
	defer j.publish()
	j.cut()
	if err := j.write(); err != nil {
		return err
	}
	if j.seg == nil || !j.seg.dirty {
		return nil
	}
	j.stats.Syncs++
	t0 := time.Now()
	err := j.seg.f.Sync()
	j.stats.LastSyncNanos = int64(time.Since(t0))
	j.stats.SyncNanos += j.stats.LastSyncNanos
	if err != nil {
		j.stats.SyncErrors++
		// After a failed fsync the kernel may have dropped the dirty
		// pages and a second fsync may lie: this segment is no longer
		// trusted to be complete. Seal it; new frames go to a new one.
		err = fmt.Errorf("sync journal %s: %w", j.seg.path, err)
		j.log.Error().Err(err).Msg("journal fsync failed; starting a new segment")
		j.seal(0)
		return err
	}
	j.seg.dirty = false
	return nil
}

// rotate seals the current segment when it is big or old enough (see
// Rotate; flusher).
func (j *Journal) rotate(hi uint64) {
	if j.seg == nil || len(j.pending) > 0 {
		return
	}
	if j.seg.size < j.cfg.SegmentSize && j.cfg.Now().Sub(j.seg.opened) < j.cfg.SegmentAge {
		return
	}
	j.seal(hi)
}

// seal closes the current segment; it is released once the dataset has
// finalised every file up to hi (0: hi is not known yet — set by the
// next Release's caller through the next Rotate).
func (j *Journal) seal(hi uint64) {
	if j.seg == nil {
		return
	}
	_ = j.seg.f.Close()
	j.sealed = append(j.sealed, sealedSeg{path: j.seg.path, size: j.seg.size, hi: hi})
	j.seg = nil
}

// release deletes the sealed segments whose rows are all in finalised
// files (see Release; flusher).
func (j *Journal) release(low, hi uint64) error {
	var errs []error
	keep := j.sealed[:0]
	for _, s := range j.sealed {
		if s.hi == 0 {
			s.hi = hi
		}
		if s.hi >= low {
			keep = append(keep, s)
			continue
		}
		if err := j.fs.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("release journal segment: %w", err))
			keep = append(keep, s)
			continue
		}
		j.stats.SegmentsReleased++
	}
	clear(j.sealed[len(keep):])
	j.sealed = keep
	j.publish()
	return errors.Join(errs...)
}

// bound releases the segments held only for abandoned files past
// MaxHeld (see Bound; flusher).
func (j *Journal) bound(live uint64) error {
	var held int64
	for _, s := range j.sealed {
		if s.hi != 0 && s.hi < live {
			held += s.size
		}
	}
	if held <= j.cfg.MaxHeld {
		return nil
	}
	var errs []error
	var dropped, droppedBytes int64
	keep := j.sealed[:0]
	for _, s := range j.sealed {
		if held <= j.cfg.MaxHeld || s.hi == 0 || s.hi >= live {
			keep = append(keep, s)
			continue
		}
		if err := j.fs.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("bound journal: %w", err))
			keep = append(keep, s)
			continue
		}
		held -= s.size
		dropped++
		droppedBytes += s.size
	}
	clear(j.sealed[len(keep):])
	j.sealed = keep
	if dropped > 0 {
		j.stats.HeldSegmentsDropped += dropped
		j.stats.HeldBytesDropped += droppedBytes
		j.log.Warn().Int64("segments", dropped).Int64("bytes", droppedBytes).Int64("max_held", j.cfg.MaxHeld).
			Msg("journal segments kept for abandoned files released past the bound; their rows are inside the write_error gap")
	}
	j.publish()
	return errors.Join(errs...)
}

// removeRunDir deletes a run's journal folder: segments first, run.json
// last (a half-removed journal still says whose it was).
func removeRunDir(fsys storage.FS, dir string) error {
	des, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove journal %s: %w", dir, err)
	}
	var errs []error
	for _, de := range des {
		if de.Name() == metaName {
			continue
		}
		if err := fsys.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		_ = fsys.Remove(filepath.Join(dir, metaName))
		if err := fsys.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		_ = fsys.SyncDir(filepath.Dir(dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove journal %s: %w", dir, err)
	}
	return nil
}

// Stats returns the counters as of the last frame, fsync or release
// (Records: as of the last frame). Any goroutine may call it.
func (j *Journal) Stats() Stats { return j.pub.load() }

// Dir is the run's journal folder.
func (j *Journal) Dir() string { return j.dir }
