package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Config's zero fields.
const (
	DefaultRollInterval = 5 * time.Minute
	DefaultRollSize     = 128 << 20
	DefaultMaxOpenFiles = 512
	DefaultRowGroupRows = 32 << 10
	// DefaultMaxPending bounds the bytes a file keeps in memory while its
	// disk refuses writes (see Config.MaxPendingBytes).
	DefaultMaxPending = 32 << 20
	// DefaultMaxBuffered bounds the bytes of the rows all open files hold
	// before writing them (see Config.MaxBufferedBytes).
	DefaultMaxBuffered = 64 << 20
)

// Config is a Dataset's configuration. Zero fields take the defaults.
type Config struct {
	Root         string        // dataset root (--out)
	WriterID     string        // --writer-id; goes into file names (encoded)
	RunID        string        // writer id + start time; goes into file names; default WriterID + Open time
	RollInterval time.Duration // finalise a file this long after it was opened (default 5m)
	// RollSize finalises a file once its size reaches it (default 128
	// MiB). The size counts the bytes written plus the buffered rows
	// uncompressed, so finished files usually come out smaller.
	RollSize int64
	// MaxOpenFiles caps the files open at once; opening one more finalises
	// the least recently written file first (default 512).
	MaxOpenFiles int
	// RowGroupRows is the maximum number of rows in a row group (default
	// 32768): a file writes its row group when it buffers that many.
	RowGroupRows int
	// MaxBufferedBytes bounds the memory all open files' column buffers
	// hold (default 64 MiB, --max-buffered): each file's page being
	// filled (at most 1 MiB of rows, uncompressed) and its open row
	// group's compressed pages, counted by the capacity of the buffers
	// (pqw.Writer.Footprint), not only the bytes of the rows in them.
	// Past it, the file holding the most encodes its page or writes its
	// row group early and drops its buffers. 64 MiB keeps full row groups
	// for tens of busy partitions (a full 10-level DOM file holds about
	// 2 MB, a quotes one about 1.3 MB) and gives each of 2000 open files
	// (500 symbols x 4 tables) about 32 KiB. The count does not see a
	// column's buffer growing while others still have room (a few per
	// cent), nor the fixed cost of an open file (about 8 KB).
	MaxBufferedBytes int64
	// MaxPendingBytes bounds the bytes one file holds in memory while
	// writes to its disk fail (ENOSPC): they are retried on the next write,
	// Roll or Close. Past it the file is abandoned and the write fails.
	MaxPendingBytes int
	// FirstCounter is the last file counter already used by the run: new
	// files number from FirstCounter+1 (a replay of a dead run's journal
	// continues its numbering).
	FirstCounter uint64
	FS           FS // file-system seam; nil = OSFS
	Logger       zerolog.Logger
	// Now is the wall clock used to time a file's age; nil = time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.RollInterval <= 0 {
		c.RollInterval = DefaultRollInterval
	}
	if c.RollSize <= 0 {
		c.RollSize = DefaultRollSize
	}
	if c.MaxOpenFiles <= 0 {
		c.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if c.RowGroupRows <= 0 {
		c.RowGroupRows = DefaultRowGroupRows
	}
	if c.MaxPendingBytes <= 0 {
		c.MaxPendingBytes = DefaultMaxPending
	}
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = DefaultMaxBuffered
	}
	if c.FS == nil {
		c.FS = OSFS{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration Open refuses.
func (c *Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("storage.Config.Root: empty"))
	}
	if c.WriterID == "" {
		errs = append(errs, errors.New("storage.Config.WriterID: empty"))
	}
	if c.RollInterval < 0 {
		errs = append(errs, fmt.Errorf("storage.Config.RollInterval: negative (%v)", c.RollInterval))
	}
	if c.RollSize < 0 {
		errs = append(errs, fmt.Errorf("storage.Config.RollSize: negative (%d)", c.RollSize))
	}
	if c.MaxBufferedBytes < 0 {
		errs = append(errs, fmt.Errorf("storage.Config.MaxBufferedBytes: negative (%d)", c.MaxBufferedBytes))
	}
	return errors.Join(errs...)
}
