package feed

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type nopHandler struct{ quotes, doms int }

func (h *nopHandler) HandleBatch(b *Batch) { h.quotes += len(b.Quotes); h.doms += len(b.DOMs) }
func (h *nopHandler) HandleEvent(Event)    {}

// benchReader runs the reader's per-frame path (parse, decode, route,
// hand to the Handler) without a socket. The receive time comes from the
// socket read (recvClock), not from a clock reading per frame: one per
// benchmark loop stands for it.
func benchReader(b *testing.B, raw string) {
	h := &nopHandler{}
	s, err := NewSession(Config{MDURL: "ws://127.0.0.1:1", AccessToken: "t", Symbols: []string{"ESZ6"}, Logger: zerolog.Nop()}, h)
	if err != nil {
		b.Fatal(err)
	}
	c := &conn{s: s, id: 1, subCount: map[string]bool{}}
	s.primary = c
	data := []byte(raw)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	recv := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.handleFrame(data, recv); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	if h.quotes+h.doms != b.N {
		b.Fatalf("handler got %d updates for %d frames", h.quotes+h.doms, b.N)
	}
}

// BenchmarkReaderQuoteFrame: one quote frame through the whole reader path.
func BenchmarkReaderQuoteFrame(b *testing.B) { benchReader(b, quoteFrame) }

// BenchmarkReaderDOMFrame: one 10-level DOM frame through the whole reader path.
func BenchmarkReaderDOMFrame(b *testing.B) { benchReader(b, domFrame(10)) }
