package storage

import (
	"io/fs"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"
)

// finaliser runs the slow steps of finalising files (fsync of the file,
// close, rename, fsync of the folder and of new parent folders) on its
// own goroutine, so that a filesystem whose fsync takes seconds under
// heavy writes does not stall the Dataset's writer. The Dataset starts
// it in Open and stops it in Close after it has drained.
//
// Files are handed over to an unbounded queue, in order: the writer
// never waits for the finaliser (1,500 files becoming due at once at
// midnight UTC queue up instead of stalling the writer for the sum of
// their fsyncs). A queued file holds its descriptor and no column
// buffers (its writer was recycled when its footer was written).
//
// A file handed over belongs to the finaliser until its result is
// posted: the writer touches none of its fields but the immutable id.
// Results are posted to a list the writer collects (never to a channel
// the writer might not be reading), so the finaliser never waits on the
// writer.
type finaliser struct {
	fs    FS
	log   zerolog.Logger
	dirs  *dirMarks
	ended chan struct{}

	mu       sync.Mutex
	cond     sync.Cond   // a result was posted
	work     sync.Cond   // a file was queued, or stop
	queue    []*partFile // handed over, not yet started, oldest first
	stopping bool
	done     []finResult // posted, not yet collected
}

// finResult is the outcome of the slow steps of one file: err is nil
// once the file is under its final name and its folder is synced.
type finResult struct {
	pf  *partFile
	err error
}

func newFinaliser(fsys FS, log zerolog.Logger, dirs *dirMarks) *finaliser {
	f := &finaliser{fs: fsys, log: log, dirs: dirs, ended: make(chan struct{})}
	f.cond.L = &f.mu
	f.work.L = &f.mu
	go f.run()
	return f
}

// submit queues a file for the slow steps; it never waits.
func (f *finaliser) submit(pf *partFile) {
	f.mu.Lock()
	f.queue = append(f.queue, pf)
	f.work.Signal()
	f.mu.Unlock()
}

// next waits for the oldest queued file; nil once stopped and drained.
func (f *finaliser) next() *partFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.queue) == 0 && !f.stopping {
		f.work.Wait()
	}
	if len(f.queue) == 0 {
		return nil
	}
	pf := f.queue[0]
	f.queue[0] = nil
	f.queue = f.queue[1:]
	if len(f.queue) == 0 {
		f.queue = nil // let a burst's array go
	}
	return pf
}

// queued is the number of files handed over and not yet started.
func (f *finaliser) queued() int {
	f.mu.Lock()
	n := len(f.queue)
	f.mu.Unlock()
	return n
}

// run finalises the files handed over, in order, until stop.
func (f *finaliser) run() {
	defer close(f.ended)
	for pf := f.next(); pf != nil; pf = f.next() {
		err := f.slowSteps(pf)
		f.mu.Lock()
		f.done = append(f.done, finResult{pf, err})
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// stop ends the goroutine once every file handed over is done.
func (f *finaliser) stop() {
	f.mu.Lock()
	f.stopping = true
	f.work.Signal()
	f.mu.Unlock()
	<-f.ended
}

// take returns and forgets the posted results.
func (f *finaliser) take() []finResult {
	f.mu.Lock()
	out := f.done
	f.done = nil
	f.mu.Unlock()
	return out
}

// waitPosted waits until at least n results are posted and not taken.
func (f *finaliser) waitPosted(n int) {
	f.mu.Lock()
	for len(f.done) < n {
		f.cond.Wait()
	}
	f.mu.Unlock()
}

// slowSteps runs the finalise steps from stageSync (or later, on a
// retry) to stageDone. On failure the file stays at the stage that
// failed; the writer retries it from there.
func (f *finaliser) slowSteps(pf *partFile) error {
	for pf.stage != stageDone {
		var err error
		switch pf.stage {
		case stageSync:
			err = opError("sync", pf.temp, pf.out.f.Sync())
			// After a failed fsync the kernel may have dropped the dirty
			// pages and a second fsync may report success regardless:
			// the retry writes the bytes into a new file instead.
			pf.rewrite = err != nil
		case stageClose:
			// After a successful fsync a close error cannot lose data;
			// report it but go on: the descriptor is released either way.
			if cerr := pf.out.f.Close(); cerr != nil {
				f.log.Warn().Err(cerr).Str("path", pf.temp).Msg("close finalised file")
			}
		case stageRename:
			if _, serr := f.fs.Lstat(pf.final); serr == nil {
				err = opError("rename", pf.final, fs.ErrExist)
			} else {
				err = opError("rename", pf.temp, f.fs.Rename(pf.temp, pf.final))
			}
		case stageSyncDir:
			err = opError("sync dir", pf.dir, f.fs.SyncDir(pf.dir))
			if err == nil {
				err = f.syncParents(pf.dir)
			}
		default: // stages the writer runs never reach here
			return opError("finalise", pf.temp, errBadStage)
		}
		if err != nil {
			return err
		}
		pf.stage++
	}
	return nil
}

// syncParents fsyncs the folders above a partition folder that got new
// entries since they were last synced, nearest first. A failure is
// retried by the next finalise below them.
func (f *finaliser) syncParents(dir string) error {
	for p, i := filepath.Dir(dir), 0; i < 3; p, i = filepath.Dir(p), i+1 {
		gen, ok := f.dirs.dirty(p)
		if !ok {
			continue
		}
		if err := f.fs.SyncDir(p); err != nil {
			return opError("sync dir", p, err)
		}
		f.dirs.clean(p, gen)
	}
	return nil
}

// dirMarks are the folders that got a new subfolder whose entry is not
// yet durable. The writer marks them (makeDir); the finaliser syncs and
// clears them. A folder marked again while its sync runs keeps its mark
// (the sync may have missed the new entry).
type dirMarks struct {
	mu   sync.Mutex
	gen  uint64
	dirs map[string]uint64 // folder -> generation of its latest mark
}

func newDirMarks() *dirMarks { return &dirMarks{dirs: make(map[string]uint64)} }

// mark records that a folder got a new entry.
func (m *dirMarks) mark(dir string) {
	m.mu.Lock()
	m.gen++
	m.dirs[dir] = m.gen
	m.mu.Unlock()
}

// dirty reports whether a folder is marked, and the mark's generation.
func (m *dirMarks) dirty(dir string) (uint64, bool) {
	m.mu.Lock()
	gen, ok := m.dirs[dir]
	m.mu.Unlock()
	return gen, ok
}

// clean clears a folder's mark unless it was marked again after gen.
func (m *dirMarks) clean(dir string, gen uint64) {
	m.mu.Lock()
	if m.dirs[dir] == gen {
		delete(m.dirs, dir)
	}
	m.mu.Unlock()
}

type badStageError struct{}

func (badStageError) Error() string { return "file handed to the finaliser at a writer stage" }

var errBadStage error = badStageError{}
