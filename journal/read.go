package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/mdcap/mdcap/storage"
	"github.com/mdcap/mdcap/storage/pqw"
)

// RunInfo describes a run's journal found on disk.
type RunInfo struct {
	WriterID string    `json:"writer_id"`
	RunID    string    `json:"run_id"`
	Start    time.Time `json:"start"`
	Dir      string    `json:"dir"`
	Segments []string  `json:"segments"` // paths, in order
	Bytes    int64     `json:"bytes"`
	// Low: every row of the segments went to a dataset file numbered at
	// least Low (from the segments' names; 0 when a segment does not say).
	Low uint64 `json:"low,omitempty"`
	// Owed are the crash gaps the run inherited (see Config.Owed).
	Owed map[string]int64 `json:"owed,omitempty"`
}

// Runs lists the journals of writerID under root (every writer's when
// writerID is ""), oldest run first. A missing journal folder is no
// journal.
func Runs(fsys storage.FS, root, writerID string) ([]RunInfo, error) {
	if fsys == nil {
		fsys = storage.OSFS{}
	}
	base := filepath.Join(root, Dir)
	var writers []string
	if writerID != "" {
		writers = []string{storage.EncodeName(writerID)}
	} else {
		des, err := fsys.ReadDir(base)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("list journals: %w", err)
		}
		for _, de := range des {
			if de.IsDir() {
				writers = append(writers, de.Name())
			}
		}
	}
	var out []RunInfo
	for _, w := range writers {
		wdir := filepath.Join(base, w)
		des, err := fsys.ReadDir(wdir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("list journals: %w", err)
		}
		for _, de := range des {
			if !de.IsDir() {
				continue
			}
			ri, err := readRun(fsys, filepath.Join(wdir, de.Name()), w, de.Name())
			if err != nil {
				return nil, err
			}
			out = append(out, ri)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Start.Equal(out[b].Start) {
			return out[a].Start.Before(out[b].Start)
		}
		return out[a].Dir < out[b].Dir
	})
	return out, nil
}

// readRun describes one run folder; a missing or unreadable run.json
// falls back to the folder names.
func readRun(fsys storage.FS, dir, wenc, renc string) (RunInfo, error) {
	ri := RunInfo{Dir: dir}
	ri.WriterID, _ = storage.DecodeName(wenc)
	ri.RunID, _ = storage.DecodeName(renc)
	if b, err := readAll(fsys, filepath.Join(dir, metaName)); err == nil {
		var m runMeta
		if json.Unmarshal(b, &m) == nil && m.RunID != "" {
			ri.WriterID, ri.RunID, ri.Start, ri.Owed = m.WriterID, m.RunID, m.Start, m.Owed
		}
	}
	des, err := fsys.ReadDir(dir)
	if err != nil {
		return ri, fmt.Errorf("list journal %s: %w", dir, err)
	}
	for _, de := range des {
		if de.IsDir() || !strings.HasSuffix(de.Name(), segExt) {
			continue
		}
		low := segLow(de.Name())
		if len(ri.Segments) == 0 || low < ri.Low {
			ri.Low = low
		}
		ri.Segments = append(ri.Segments, filepath.Join(dir, de.Name()))
		if info, err := de.Info(); err == nil {
			ri.Bytes += info.Size()
		}
	}
	sort.Strings(ri.Segments) // zero-padded numbers
	return ri, nil
}

func readAll(fsys storage.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Damage describes the part of a segment that could not be read.
type Damage struct {
	Offset int64  // first byte not read
	Bytes  int64  // bytes from there to the end
	Reason string // "torn frame", "bad checksum", …
}

// ReadSegment reads a segment's records in order and calls fn for each.
// Reading stops at the first damaged frame (torn at the end, bad
// checksum, bad length, undecodable): the records before it are
// delivered and the damage is returned, not an error. An error is an
// unreadable file or fn's error.
func ReadSegment(fsys storage.FS, path string, fn func(*Record) error) (*Damage, []byte, error) {
	if fsys == nil {
		fsys = storage.OSFS{}
	}
	b, err := readAll(fsys, path)
	if err != nil {
		return nil, nil, fmt.Errorf("read journal segment: %w", err)
	}
	damaged := func(off int, reason string) (*Damage, []byte, error) {
		return &Damage{Offset: int64(off), Bytes: int64(len(b) - off), Reason: reason}, b[off:], nil
	}
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		if len(b) == 0 {
			return nil, nil, nil // created, nothing written: empty
		}
		if len(b) < len(magic) && magic[:len(b)] == string(b) {
			return damaged(0, "torn header")
		}
		return damaged(0, "not a journal segment")
	}
	off := len(magic)
	var block, unpacked []byte // unpacked: S2's output buffer, reused
	var pages *pqw.PageDecoder // made by the first page record, for the segment
	defer func() {
		if pages != nil {
			pages.Close()
		}
	}()
	for off < len(b) {
		if len(b)-off < frameHeader {
			return damaged(off, "torn frame header")
		}
		word := binary.LittleEndian.Uint32(b[off:])
		n, raw := int(word&^frameRaw), word&frameRaw != 0
		sum := binary.LittleEndian.Uint32(b[off+4:])
		if n == 0 || n > maxFrame {
			return damaged(off, fmt.Sprintf("bad frame length %d", n))
		}
		if len(b)-off-frameHeader < n {
			return damaged(off, "torn frame")
		}
		payload := b[off+frameHeader : off+frameHeader+n]
		if crc32.Checksum(payload, castagnoli) != sum {
			return damaged(off, "bad checksum")
		}
		block = payload
		if !raw {
			if unpacked, err = s2.Decode(unpacked[:cap(unpacked)], payload); err != nil {
				return damaged(off, "undecodable frame: "+err.Error())
			}
			block = unpacked
		}
		// Decode the whole frame before delivering any of it: a frame is
		// taken whole or not at all.
		d := decoder{b: block, pages: pages}
		var recs []Record
		for {
			r, ok := d.next()
			if !ok {
				break
			}
			recs = append(recs, r)
		}
		pages = d.pages
		if d.err != nil {
			return damaged(off, d.err.Error())
		}
		for i := range recs {
			if err := fn(&recs[i]); err != nil {
				return nil, nil, err
			}
		}
		off += frameHeader + n
	}
	return nil, nil, nil
}

// QuarantineInfo is one file kept aside in the quarantine folder.
type QuarantineInfo struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Quarantined lists the files under <root>/.quarantine.
func Quarantined(root string) ([]QuarantineInfo, error) {
	base := filepath.Join(root, QuarantineDir)
	var out []QuarantineInfo
	err := filepath.WalkDir(base, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p == base {
				return filepath.SkipAll
			}
			return err
		}
		if !de.Type().IsRegular() {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		out = append(out, QuarantineInfo{Path: p, Bytes: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}
