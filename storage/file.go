package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// Stages of finalising a file. A file whose finalise fails stays at the
// stage that failed and is retried from there by the next Roll or Close.
type stage uint8

const (
	stageOpen    stage = iota // taking rows
	stageDrain                // footer written; kept bytes still to write
	stageSync                 // all bytes written; fsync the file
	stageClose                // close the file
	stageRename               // rename the temporary name to the final one
	stageSyncDir              // fsync the folder
	stageDone
)

// partFile is one open file of a partition (table, date, symbol).
type partFile struct {
	table  schema.Table
	symbol string
	day    int64  // UTC day number of its rows' recv_ts
	dir    string // folder, absolute or relative to the working directory
	final  string // final path
	temp   string // temporary path
	opened time.Time
	out    *spillFile
	sink   rowSink
	rows   int64
	id     uint64 // the file counter when it was opened (OldestUnfinished)
	stage  stage
	// rewrite: the file's fsync failed; the retry copies it to a new
	// temporary file before syncing again.
	rewrite bool
	// retiring: a file of an earlier date, taking no rows, its footer
	// not yet written (see Dataset.retire).
	retiring bool
	// least-recently-written list of open files
	prev, next *partFile
}

const dayNanos = int64(24 * time.Hour)

// dayOf is the UTC day number of a Unix-nanosecond time.
func dayOf(ns int64) int64 {
	d := ns / dayNanos
	if ns%dayNanos < 0 {
		d--
	}
	return d
}

// dateOf formats a day number as YYYY-MM-DD.
func dateOf(day int64) string {
	return time.Unix(day*int64(24*3600), 0).UTC().Format(schema.DateFormat)
}

// openPartFile creates the temporary file of a new file of the partition.
func (d *Dataset) openPartFile(t schema.Table, symbol string, day int64) (*partFile, error) {
	date := dateOf(day)
	if err := schema.CheckSymbol(symbol); err != nil {
		return nil, &Error{Op: "open partition", Path: t.String() + "/date=" + date, Err: err}
	}
	rel := schema.PartitionDir(t, date, symbol)
	if rel == "" {
		return nil, &Error{Op: "open partition", Path: t.String() + "/" + date + "/" + symbol, Err: errors.New("bad table, date or empty symbol")}
	}
	dir := filepath.Join(d.cfg.Root, filepath.FromSlash(rel))
	if _, ok := d.dirs[dir]; !ok {
		if err := d.makeDir(dir); err != nil {
			return nil, err
		}
		d.dirs[dir] = struct{}{}
	}
	var (
		f          File
		final, tmp string
	)
	for try := 0; ; try++ {
		d.counter++
		name := fileName(d.cfg.WriterID, d.cfg.RunID, d.counter)
		final = filepath.Join(dir, name)
		tmp = filepath.Join(dir, tempName(name))
		if _, err := d.fs.Lstat(final); err == nil {
			continue // taken (same run id reused): next counter
		}
		var err error
		f, err = d.fs.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			break
		}
		if errors.Is(err, fs.ErrExist) && try < 1000 {
			continue
		}
		return nil, opError("create", tmp, err)
	}
	out := &spillFile{f: f, path: tmp, max: d.cfg.MaxPendingBytes, onRefused: d.refused}
	pf := &partFile{
		table: t, symbol: symbol, day: day, dir: dir, final: final, temp: tmp,
		opened: d.cfg.Now(), out: out, id: d.counter,
	}
	if pool := d.pool[t]; len(pool) > 0 {
		pf.sink = pool[len(pool)-1]
		d.pool[t] = pool[:len(pool)-1]
		pf.sink.Reset(out)
	} else {
		pf.sink = d.sinks.newSink(t, out, &d.cfg)
	}
	d.tapFile(pf)
	return pf, nil
}

// finish runs the writer's finalise steps from the file's current stage
// (the footer, the kept bytes, the copy of a file whose fsync failed) and
// hands the file to the finaliser for the slow ones (fsync, close,
// rename, folder fsyncs) without waiting for them. It returns nil once
// the file is handed over; the finaliser's result comes back through
// collect.
func (d *Dataset) finish(pf *partFile) error {
	for pf.stage < stageSync {
		var err error
		switch pf.stage {
		case stageOpen:
			d.buffered -= pf.sink.Footprint()
			err = pf.sink.Close()
			if err == nil {
				d.recycle(pf)
			}
		case stageDrain:
			err = pf.out.drain()
		}
		if err != nil {
			return err
		}
		pf.stage++
	}
	if pf.stage == stageSync && pf.rewrite {
		if err := d.rewrite(pf); err != nil {
			return err
		}
		pf.rewrite = false
	}
	if pf.stage == stageDone {
		d.finished(pf)
		return nil
	}
	d.inflight = append(d.inflight, pf)
	d.fin.submit(pf) // never waits: the finaliser's queue is unbounded
	return nil
}

// finished counts a file visible under its final name and durable.
func (d *Dataset) finished(pf *partFile) {
	d.stats.FilesFinalised++
	d.stats.BytesFinalised += pf.out.size
	d.log.Debug().Str("path", pf.final).Int64("rows", pf.rows).Int64("bytes", pf.out.size).Msg("file finalised")
}

// collect takes the finaliser's results: a finalised file is counted, a
// failed one joins the files to retry and its error is kept for the next
// Roll or Close.
func (d *Dataset) collect() {
	for _, r := range d.fin.take() {
		// The finaliser works in hand-over order: the result is almost
		// always the oldest file in flight (no scan of 1,500 files).
		if len(d.inflight) > 0 && d.inflight[0] == r.pf {
			d.inflight[0] = nil
			d.inflight = d.inflight[1:]
			if len(d.inflight) == 0 {
				d.inflight = nil
			}
		} else {
			d.forgetInflight(r.pf)
		}
		if r.err == nil {
			d.finished(r.pf)
			continue
		}
		d.stats.WriteErrors++
		d.pending = append(d.pending, r.pf)
		d.log.Error().Err(r.err).Str("path", r.pf.temp).Msg("finalise failed; will retry")
		d.deferErr(r.err)
	}
}

// forgetInflight removes a file from the files in flight.
func (d *Dataset) forgetInflight(done *partFile) {
	for i, pf := range d.inflight {
		if pf == done {
			last := len(d.inflight) - 1
			copy(d.inflight[i:], d.inflight[i+1:])
			d.inflight[last] = nil
			d.inflight = d.inflight[:last]
			return
		}
	}
}

// WaitFinalised waits until the finaliser is done with every file handed
// to it and collects the results: a finalise that failed is then counted
// in Stats and its error kept for the next Roll or Close. Roll does not
// wait, so OldestUnfinished advances past a rolled file on a later call;
// an owner that needs the watermark at once (a test, a planned stop)
// calls this. Close waits by itself.
func (d *Dataset) WaitFinalised() {
	d.fin.waitPosted(len(d.inflight))
	d.collect()
}

// recycle returns a file's writer to the pool of its table once the
// footer is written. A pooled writer keeps its column buffers only up to
// pooledBufferBytes, so the pool holds no row group's worth of memory.
func (d *Dataset) recycle(pf *partFile) {
	if s := pf.sink; s != nil {
		pf.sink = nil
		if len(d.pool[pf.table]) < maxPooled {
			if s.MemBytes() > pooledBufferBytes {
				s.Release()
			}
			d.pool[pf.table] = append(d.pool[pf.table], s)
		}
	}
}

// makeDir creates a partition folder. The new folder entries are made
// durable later, when the first file below them is finalised
// (finaliser.syncParents): a file fsynced into a folder whose own entry was never
// synced could vanish with it after a power loss, but a file is only
// durable once finalised, and opening the files of many new partitions
// at once (a start, midnight) then costs no fsync.
func (d *Dataset) makeDir(dir string) error {
	if err := d.fs.MkdirAll(dir, 0o755); err != nil {
		return opError("mkdir", dir, err)
	}
	// symbol folder -> date folder -> table folder -> root
	for p, i := filepath.Dir(dir), 0; i < 3; p, i = filepath.Dir(p), i+1 {
		d.unsynced.mark(p)
	}
	return nil
}

// refused records that a disk started refusing a file's writes; the
// bytes are kept and retried (see spillFile).
func (d *Dataset) refused(err error) {
	d.stats.WriteErrors++
	d.log.Error().Err(err).Msg("write refused; keeping the bytes in memory and retrying")
}

// rewrite copies a file whose fsync failed into a new temporary file of
// the same folder (reading the old one back from the page cache), checks
// that the copy is a complete Parquet file, and replaces the old one.
func (d *Dataset) rewrite(pf *partFile) error {
	d.counter++
	name := fileName(d.cfg.WriterID, d.cfg.RunID, d.counter)
	tmp := filepath.Join(pf.dir, tempName(name))
	src, err := d.fs.Open(pf.temp)
	if err != nil {
		return opError("rewrite: open", pf.temp, err)
	}
	defer src.Close()
	dst, err := d.fs.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return opError("rewrite: create", tmp, err)
	}
	n, err := io.Copy(dst, src)
	if err == nil && n != pf.out.size {
		err = fmt.Errorf("copied %d bytes of %d", n, pf.out.size)
	}
	if err == nil {
		err = checkParquet(tmp)
	}
	if err != nil {
		dst.Close()
		_ = d.fs.Remove(tmp)
		return opError("rewrite", tmp, err)
	}
	_ = pf.out.f.Close()
	if rerr := d.fs.Remove(pf.temp); rerr != nil {
		d.log.Warn().Err(rerr).Str("path", pf.temp).Msg("remove the file whose fsync failed")
	}
	pf.out.f, pf.out.path, pf.temp = dst, tmp, tmp
	pf.final = filepath.Join(pf.dir, name)
	d.log.Warn().Str("path", tmp).Msg("rewrote a file whose fsync failed")
	return nil
}

// checkParquet reports whether a file reads back as complete Parquet.
func checkParquet(path string) error {
	pf, err := OpenParquet(path)
	if err != nil {
		return err
	}
	defer pf.Close()
	_, err = ReadMeta(pf)
	return err
}
