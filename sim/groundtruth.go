package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// TruthRecord is one line of the ground truth: an md update written to a
// socket (End empty) or the end of a connection (End set, the rest zero
// but T and Conn).
type TruthRecord struct {
	T          int64           `json:"t"`    // send time (or end time), Unix ns
	Conn       int64           `json:"conn"` // server connection number, from 1
	Symbol     string          `json:"symbol,omitempty"`
	ContractID int64           `json:"contractId,omitempty"`
	Type       string          `json:"type,omitempty"` // "quote" or "dom"
	TS         string          `json:"ts,omitempty"`   // the server timestamp as sent
	D          json.RawMessage `json:"d,omitempty"`    // the object exactly as sent
	End        string          `json:"end,omitempty"`  // an End* cause
}

// ReadTruth parses a ground-truth JSONL stream.
func ReadTruth(r io.Reader) ([]TruthRecord, error) {
	var out []TruthRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var rec TruthRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return out, fmt.Errorf("parse ground truth line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read ground truth: %w", err)
	}
	return out, nil
}

// groundTruth appends JSONL records of what the server actually sent and
// how each connection ended. Safe for concurrent use; buffered until
// flush. A nil *groundTruth records nothing.
type groundTruth struct {
	mu  sync.Mutex
	w   *bufio.Writer
	buf []byte
	err error
}

func newGroundTruth(w io.Writer) *groundTruth {
	if w == nil {
		return nil
	}
	return &groundTruth{w: bufio.NewWriterSize(w, 256<<10)}
}

// updates records the md updates written to connection conn at time t;
// each update's json is the exact object sent.
func (g *groundTruth) updates(t time.Time, conn int64, us []*update) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ns := t.UnixNano()
	for _, u := range us {
		b := g.buf[:0]
		b = append(b, `{"t":`...)
		b = strconv.AppendInt(b, ns, 10)
		b = append(b, `,"conn":`...)
		b = strconv.AppendInt(b, conn, 10)
		b = append(b, `,"symbol":`...)
		b = appendString(b, u.c.Name)
		b = append(b, `,"contractId":`...)
		b = strconv.AppendInt(b, u.c.ID, 10)
		b = append(b, `,"type":"`...)
		b = append(b, u.kind.String()...)
		b = append(b, `","ts":"`...)
		b = appendTS(b, u.ms)
		b = append(b, `","d":`...)
		b = append(b, u.json...)
		b = append(b, "}\n"...)
		g.write(b)
	}
}

// end records the end of connection conn with its cause.
func (g *groundTruth) end(t time.Time, conn int64, cause string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.buf[:0]
	b = append(b, `{"t":`...)
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	b = append(b, `,"conn":`...)
	b = strconv.AppendInt(b, conn, 10)
	b = append(b, `,"end":`...)
	b = appendString(b, cause)
	b = append(b, "}\n"...)
	g.write(b)
}

// write must be called with mu held.
func (g *groundTruth) write(b []byte) {
	g.buf = b
	if g.err != nil {
		return
	}
	if _, err := g.w.Write(b); err != nil {
		g.err = err
	}
}

// flush writes what is buffered and returns the first write error.
func (g *groundTruth) flush() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = g.w.Flush()
	}
	return g.err
}
