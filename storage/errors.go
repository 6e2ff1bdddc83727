package storage

import (
	"errors"
	"io/fs"
)

// Error is a failed file operation of the dataset writer: it names the
// operation and the file (or folder) it concerned.
type Error struct {
	Op   string // "create", "write", "sync", "close", "rename", "sync dir", "finalise", …
	Path string
	Err  error
}

func (e *Error) Error() string {
	inner := e.Err
	// os errors already carry a path; say it once.
	var pe *fs.PathError
	if errors.As(inner, &pe) && pe.Path == e.Path {
		inner = pe.Err
	}
	return "storage: " + e.Op + " " + e.Path + ": " + inner.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func opError(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Path: path, Err: err}
}

// ErrClosed is returned by a Dataset used after Close.
var ErrClosed = errors.New("storage: dataset closed")
