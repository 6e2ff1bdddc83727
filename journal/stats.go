package journal

import "sync/atomic"

// published is a copy of a journal's Stats that other goroutines (the
// metrics) read while the writer goroutine owns the journal: it is
// refreshed at each frame, fsync and release, not at each record.
type published struct {
	v atomic.Pointer[Stats]
}

func (p *published) load() Stats {
	if s := p.v.Load(); s != nil {
		return *s
	}
	return Stats{}
}

// publish refreshes the published stats, with the segments on disk now.
func (j *Journal) publish() {
	s := j.stats
	s.LiveSegments, s.LiveBytes = int64(len(j.sealed)), 0
	for _, x := range j.sealed {
		s.LiveBytes += x.size
	}
	if j.seg != nil {
		s.LiveSegments++
		s.LiveBytes += j.seg.size
	}
	j.pub.v.Store(&s)
}
