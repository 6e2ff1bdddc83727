package journal

import "errors"

// The flusher is the journal's goroutine for the encoding and the files:
// it runs the codec over the chunks of rows the writer copied (chunk.go),
// frames each full block of records (CRC), writes it, fsyncs, seals,
// releases. The writer goroutine only copies rows into a chunk and hands
// a full one over (handOff), taking back an empty one; with every chunk
// in flight it waits for the flusher, so the memory stays bounded and a
// disk (or an encoder) that falls behind slows the writer instead of
// growing a queue.
//
// Everything else the writer asks — Sync, Rotate, Release, Bound, Close
// — goes through the same ordered queue and waits for its answer: Sync
// returns once every row appended before it is encoded, written and
// fsynced, with the error of any write since the last Sync, exactly as
// when the writer did it itself. The writer's periodic roll does not
// wait: BeginRoll queues the fsync before the dataset rolls its files,
// EndRoll the sealing and releasing after, and the next BeginRoll
// returns their outcome — so the writer keeps taking rows while the disk
// syncs, the rows appended before a roll are durable at the same moment
// as if it had waited, and a failure is reported one --sync-interval
// later. The durability bound stays --sync-interval plus the fsync's
// latency plus the rows in flight.
//
// Started by Open (start), the flusher ends when Close or Remove closes
// its queue (stop), after the requests already queued; nothing else
// ends it: a failed write or fsync is kept for the next Sync, and the
// flusher goes on.

// request is one job for the flusher: a chunk to encode, or a call whose
// error goes to done.
type request struct {
	chunk   *chunk
	records int64 // records appended so far (for the stats)
	fn      func() error
	done    chan error
}

// chunksInFlight is how many full chunks the writer may have handed over
// and not yet got back; it fills one more meanwhile. Memory: a chunk
// holds up to chunkRecs records of 56 bytes (112 KiB) and an arena of
// chunkFloats values (264 KiB with its headroom), so the three take
// about 1.1 MiB, plus the flusher's block (288 KiB) and the frames a
// refusing disk keeps (Config.MaxPending).
const chunksInFlight = 2

// start starts the flusher; Close or Remove ends it.
func (j *Journal) start() {
	j.reqs = make(chan request, chunksInFlight+1)
	j.free = make(chan *chunk, chunksInFlight+1)
	j.stopped = make(chan struct{})
	for i := 0; i < chunksInFlight; i++ {
		j.free <- newChunk()
	}
	j.cur = newChunk()
	j.enc.b = make([]byte, 0, blockSize+blockSize/8)
	j.running = true
	go j.flush()
}

func (j *Journal) flush() {
	defer close(j.stopped)
	for r := range j.reqs {
		j.stats.Records = r.records
		if r.fn != nil {
			r.done <- r.fn()
			continue
		}
		frames := j.stats.Frames
		j.encode(r.chunk)
		r.chunk.reset()
		j.free <- r.chunk
		if j.stats.Frames != frames {
			_ = j.write() // a failure is kept in pending and reported by Sync
			j.publish()
		}
	}
}

// encode runs the codec over the rows of a chunk, framing the block
// each time it reaches blockSize (flusher).
func (j *Journal) encode(c *chunk) {
	j.encSyms = append(j.encSyms, c.syms...)
	for i := range c.recs {
		r := &c.recs[i]
		if len(j.enc.b) == 0 {
			j.frameLow = c.low
		}
		j.enc.record(r, j.encSyms[r.sym], c)
		if len(j.enc.b) >= blockSize {
			j.cut()
		}
	}
}

// cut frames the block being encoded and starts a new one (flusher).
func (j *Journal) cut() {
	if len(j.enc.b) == 0 {
		return
	}
	j.frame(j.enc.b, j.frameLow)
	j.enc.reset()
	j.frameLow = 0
}

// stop ends the flusher after the requests already queued.
func (j *Journal) stop() {
	if j.running {
		j.running = false
		close(j.reqs)
		<-j.stopped
	}
}

// handOff gives the chunk being filled to the flusher and starts an
// empty one.
func (j *Journal) handOff() {
	c := j.cur
	if len(c.recs) == 0 {
		return
	}
	if !j.running { // closed: nothing is journaled any more
		c.reset()
		return
	}
	if j.lowSet {
		c.low = j.blockLow
	}
	j.reqs <- request{chunk: c, records: j.records}
	j.cur = <-j.free
	j.blockLow, j.lowSet = 0, false
}

// do runs fn on the flusher after everything handed over before, and
// returns its error.
func (j *Journal) do(fn func() error) error {
	if !j.running {
		return nil
	}
	done := make(chan error, 1)
	j.reqs <- request{fn: fn, done: done, records: j.records}
	return <-done
}

// Sync writes every row appended so far and fsyncs the segment: every row
// appended before it is durable once it returns nil. An error is a write
// or fsync that failed since the last Sync (the bytes stay pending and
// are retried; see Config.MaxPending).
func (j *Journal) Sync() error {
	if j.closed {
		return nil
	}
	prev := j.rollWait()
	j.takeTails()
	j.handOff()
	return errors.Join(prev, j.do(j.syncDisk))
}

// takeTails has the rows not in a page yet journaled (see Sink).
func (j *Journal) takeTails() {
	if j.tails != nil && j.running {
		j.tails()
	}
}

// BeginRoll starts what the writer does first every --sync-interval,
// without waiting for it: write and fsync every row appended so far (as
// Sync). It returns the error of the previous roll's work (BeginRoll and
// EndRoll), waiting for it if it is still running (a disk slower than
// the interval slows the writer).
func (j *Journal) BeginRoll() error {
	if j.closed {
		return nil
	}
	prev := j.rollWait()
	j.takeTails()
	j.handOff()
	j.queue(j.syncDisk)
	return prev
}

// EndRoll queues, after the dataset rolled its files, Rotate(hi),
// Release(low, hi) and, when bound, Bound(live); their error comes with
// the next BeginRoll or Sync.
func (j *Journal) EndRoll(hi, low, live uint64, bound bool) {
	if j.closed {
		return
	}
	j.queue(func() error {
		j.rotate(hi)
		err := j.release(low, hi)
		if bound {
			err = errors.Join(err, j.bound(live))
		}
		return err
	})
}

// queue runs fn on the flusher without waiting; rollWait collects it.
func (j *Journal) queue(fn func() error) {
	if !j.running {
		return
	}
	done := make(chan error, 1)
	j.reqs <- request{fn: fn, done: done, records: j.records}
	j.rolling = append(j.rolling, done)
}

// rollWait returns the outcome of the queued roll work, waiting for it.
func (j *Journal) rollWait() error {
	var errs []error
	for _, done := range j.rolling {
		errs = append(errs, <-done)
	}
	clear(j.rolling)
	j.rolling = j.rolling[:0]
	return errors.Join(errs...)
}

// Rotate seals the current segment when it is big or old enough. hi is
// the dataset's FileCounter: every row appended so far went to a file
// numbered at most hi.
func (j *Journal) Rotate(hi uint64) {
	_ = j.do(func() error { j.rotate(hi); return nil })
}

// Release deletes the sealed segments whose rows are all in finalised
// files: low is the dataset's OldestUnfinished, hi is its FileCounter
// (fills in the bound of segments sealed without one).
func (j *Journal) Release(low, hi uint64) error {
	return j.do(func() error { return j.release(low, hi) })
}

// Bound releases, oldest first, the sealed segments that only files the
// dataset abandoned still hold, while they take more than MaxHeld bytes.
// live is the oldest file the dataset still has open or pending: every
// row of a segment with hi below it is in a finalised file or in an
// abandoned one. Those rows are worth replaying at the next start, but a
// busy feed would fill the disk with them until then: past the bound
// they are given up — their loss is already recorded, as the
// write_error gap of the abandoned file — and counted.
func (j *Journal) Bound(live uint64) error {
	return j.do(func() error { return j.bound(live) })
}

// Close makes what is buffered durable, closes the current segment and
// ends the flusher; the journal stays on disk for the next start to
// recover.
func (j *Journal) Close() error {
	if j.closed {
		return nil
	}
	err := j.Sync()
	_ = j.do(func() error { j.seal(0); return nil })
	j.stop()
	j.closed = true
	return err
}

// Remove deletes the run's journal: the dataset has finalised every row
// it holds (a clean stop).
func (j *Journal) Remove() error {
	_ = j.rollWait()
	_ = j.do(func() error {
		if j.seg != nil {
			_ = j.seg.f.Close()
			j.seg = nil
		}
		return nil
	})
	j.stop()
	j.closed = true
	j.sealed = nil
	j.publish()
	return removeRunDir(j.fs, j.dir)
}
