package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// LocksDir is the folder under a dataset root that holds one lock file per
// writer id.
const LocksDir = ".locks"

// ErrLocked is returned by LockWriter when another process holds the lock
// of the same writer id on the same root.
var ErrLocked = errors.New("another recorder with this writer id is writing this root")

// WriterLock is the exclusive lock of one writer id on a dataset root:
// two recorders with the same id would recover each other's journals and
// temporary files, so only one may write at a time. Different ids share a
// root freely. The operating system releases the lock when the process
// dies, so a crashed recorder never blocks its successor.
type WriterLock struct {
	f    *os.File
	path string
}

// LockWriter takes the lock <root>/.locks/<writer id>.lock (flock, non
// blocking). It fails with ErrLocked when another process holds it.
func LockWriter(root, writerID string) (*WriterLock, error) {
	dir := filepath.Join(root, LocksDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, opError("mkdir", dir, err)
	}
	path := filepath.Join(dir, EncodeName(writerID)+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, opError("open lock", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock writer id %q on %s: %w (lock file %s)", writerID, root, ErrLocked, path)
		}
		return nil, opError("lock", path, err)
	}
	// The holder's pid, for a person looking at the lock file.
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return &WriterLock{f: f, path: path}, nil
}

// Unlock releases the lock. The lock file stays (removing it would let a
// waiting process lock a file that is about to disappear).
func (l *WriterLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
