package storage

import (
	"io"
	"io/fs"
	"os"
)

// FS is the file system a Dataset writes to. It is the seam tests use to
// inject failures (disk full, permission denied, failing fsync); the
// default, OSFS, is the operating system's.
type FS interface {
	MkdirAll(path string, perm fs.FileMode) error
	// OpenFile opens a file for writing (the Dataset always passes
	// O_CREATE|O_EXCL|O_WRONLY).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Open opens a file for reading (to rewrite a file whose fsync
	// failed).
	Open(name string) (io.ReadCloser, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	Lstat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	// SyncDir makes the entries of a folder (a rename into it) durable.
	SyncDir(dir string) error
}

// File is an open file of an FS.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// OSFS is the operating system's file system.
type OSFS struct{}

var _ FS = OSFS{}

// MkdirAll creates a folder and its parents.
func (OSFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }

// OpenFile opens a file.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Open opens a file for reading.
func (OSFS) Open(name string) (io.ReadCloser, error) { return os.Open(name) }

// Rename renames a file.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove removes a file.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Lstat describes a file without following a symbolic link.
func (OSFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }

// ReadDir lists a folder.
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// SyncDir fsyncs a folder so that a preceding rename within it is durable.
func (OSFS) SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
