package storage

// spillFile is the io.Writer a parquet writer writes a file through. When
// the disk refuses a write (disk full, I/O error) it keeps the bytes it
// could not write in memory, in order, and tells the parquet writer all is
// well, so the parquet stream stays consistent and no row is lost; the
// kept bytes are written before anything else on the next Write or drain.
// Past max kept bytes it gives up: the file is then broken.
type spillFile struct {
	f       File
	path    string
	max     int
	pending []byte
	lastErr error // the most recent write error while bytes are pending
	broken  error // sticky: the file cannot be completed
	size    int64 // bytes accepted (written or pending)
	// onRefused is called when the disk starts refusing writes (the
	// first failure after all bytes were written).
	onRefused func(error)
}

func (s *spillFile) Write(p []byte) (int, error) {
	if s.broken != nil {
		return 0, s.broken
	}
	if len(s.pending) > 0 {
		_ = s.drain()
	}
	rest := p
	if len(s.pending) == 0 {
		n, err := s.f.Write(p)
		if err == nil && n == len(p) {
			s.size += int64(n)
			return n, nil
		}
		if err == nil {
			err = errShortWrite
		}
		s.lastErr = err
		rest = p[n:]
		if s.onRefused != nil {
			s.onRefused(opError("write", s.path, err))
		}
	}
	if len(s.pending)+len(rest) > s.max {
		s.broken = opError("write", s.path, s.lastErr)
		return 0, s.broken
	}
	s.pending = append(s.pending, rest...)
	s.size += int64(len(p))
	return len(p), nil
}

// drain writes the kept bytes. It returns nil once none are left.
func (s *spillFile) drain() error {
	if s.broken != nil {
		return s.broken
	}
	for len(s.pending) > 0 {
		n, err := s.f.Write(s.pending)
		s.pending = s.pending[n:]
		if err != nil {
			s.lastErr = err
			return opError("write", s.path, err)
		}
		if n == 0 {
			return opError("write", s.path, errShortWrite)
		}
	}
	s.pending = nil
	s.lastErr = nil
	return nil
}

type shortWriteError struct{}

func (shortWriteError) Error() string { return "short write" }

var errShortWrite error = shortWriteError{}
