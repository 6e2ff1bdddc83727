package capture

import (
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// chunk is the unit that travels through the bounded queue: the data rows of
// one or more received frames of one connection (already mapped to
// symbols; the reader coalesces frames while the writer is busy) and the
// events rows that belong before them. Chunks are recycled through a free list, so the steady
// state allocates nothing.
type chunk struct {
	recv   int64 // receive time of its first frame (0 for an events-only chunk)
	conn   int64
	quotes []quoteRec
	doms   []domRec
	levels []feed.Level // DOM sides of every domRec, back to back
	events []eventRec
}

// records is the number of data rows the chunk holds (what --buffer counts).
func (c *chunk) records() int { return len(c.quotes) + len(c.doms) }

func (c *chunk) reset() {
	c.recv, c.conn = 0, 0
	c.quotes = c.quotes[:0]
	c.doms = c.doms[:0]
	c.levels = c.levels[:0]
	for i := range c.events {
		c.events[i] = eventRec{}
	}
	c.events = c.events[:0]
}

type quoteRec struct {
	sym  int32 // index into Config.Symbols
	recv int64 // receive time of its frame
	q    feed.Quote
}

type domRec struct {
	sym        int32
	recv       int64
	contractID int64
	ts         int64
	bids, offs int32 // number of levels of each side
	off        int32 // index of the first bid level in chunk.levels
}

type eventRec struct {
	sym int32
	ev  schema.Event
}

// maxFreeChunks bounds the free list (it is also at most --buffer);
// chunks beyond it are left to the GC.
const maxFreeChunks = 4096

// chunkPool is a bounded free list of chunks shared by the reader (get) and
// the writer (put).
type chunkPool chan *chunk

func (p chunkPool) get() *chunk {
	select {
	case c := <-p:
		return c
	default:
		return &chunk{}
	}
}

func (p chunkPool) put(c *chunk) {
	if cap(c.levels) > 1<<16 || cap(c.quotes) > 1<<14 {
		return // do not pin a burst's memory forever
	}
	c.reset()
	select {
	case p <- c:
	default:
	}
}
