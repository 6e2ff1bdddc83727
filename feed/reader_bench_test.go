package feed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/sim"
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
	var cpu cpuTimer
	cpu.start(b)
	for i := 0; i < b.N; i++ {
		if err := c.handleFrame(data, recv); err != nil {
			b.Fatal(err)
		}
	}
	cpu.stop(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	if h.quotes+h.doms != b.N {
		b.Fatalf("handler got %d updates for %d frames", h.quotes+h.doms, b.N)
	}
}

// BenchmarkReaderQuoteFrame: one quote frame through the whole reader path.
func BenchmarkReaderQuoteFrame(b *testing.B) { benchReader(b, quoteFrame) }

// BenchmarkReaderDOMFrame: one 10-level DOM frame through the whole reader path.
func BenchmarkReaderDOMFrame(b *testing.B) { benchReader(b, domFrame(10)) }

// blastFrames records the data frames of a short simulator blast (4
// contracts, 1 update per frame, 20 % 10-level DOM frames: the frames
// scripts/bench sends), read with a plain WebSocket client.
func blastFrames(b *testing.B, frames int) [][]byte {
	b.Helper()
	cfg := sim.DefaultConfig()
	cfg.Contracts = sim.GeneratedContracts(4)
	cfg.Rules.MaxRequestsPerSecond = 0
	cfg.Blast = sim.Blast{Updates: int64(frames), Frames: frames}
	srv, err := sim.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	body, _ := json.Marshal(map[string]string{"name": sim.DefaultUsername, "password": sim.DefaultPassword,
		"appId": sim.DefaultAppID, "appVersion": "bench", "cid": sim.DefaultCID, "sec": sim.DefaultSec, "deviceId": "bench"})
	resp, err := http.Post(srv.RESTURL()+"/auth/accesstokenrequest", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		MDAccessToken string `json:"mdAccessToken"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(srv.WSURL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	reqs := []string{"authorize\n1\n\n" + tok.MDAccessToken}
	for i, c := range cfg.Contracts {
		reqs = append(reqs, fmt.Sprintf("md/subscribeQuote\n%d\n\n{\"symbol\":%q}", 2*i+2, c.Name),
			fmt.Sprintf("md/subscribeDOM\n%d\n\n{\"symbol\":%q}", 2*i+3, c.Name))
	}
	for _, r := range reqs {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(r)); err != nil {
			b.Fatal(err)
		}
	}
	var out [][]byte
	for len(out) < frames {
		_, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatalf("after %d data frames: %v", len(out), err)
		}
		if bytes.HasPrefix(data, []byte(`a[{"e":"md"`)) {
			out = append(out, data)
		}
	}
	return out
}

// BenchmarkReaderBlastFrames: the simulator's blast frames (random
// walks, so number lengths vary as they do on the wire) through the
// reader path from the copy out of the socket buffer on; ns/op is per
// frame (one update each).
func BenchmarkReaderBlastFrames(b *testing.B) {
	frames := blastFrames(b, 4096)
	h := &nopHandler{}
	s, err := NewSession(Config{MDURL: "ws://127.0.0.1:1", AccessToken: "t", Symbols: []string{"SY0001", "SY0002", "SY0003", "SY0004"}, Logger: zerolog.Nop()}, h)
	if err != nil {
		b.Fatal(err)
	}
	c := &conn{s: s, id: 1, subCount: map[string]bool{}}
	s.primary = c
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	b.SetBytes(int64(n / len(frames)))
	b.ReportAllocs()
	recv := time.Now()
	buf := make([]byte, 0, 64<<10)
	var cpu cpuTimer
	cpu.start(b)
	for i := 0; i < b.N; i++ {
		// The reader copies each frame out of the socket buffer into its
		// own (readAll): the decoder then reads bytes that are in cache.
		buf = append(buf[:0], frames[i%len(frames)]...)
		if err := c.handleFrame(buf, recv); err != nil {
			b.Fatal(err)
		}
	}
	cpu.stop(b)
	if h.quotes+h.doms != b.N {
		b.Fatalf("handler got %d updates for %d frames", h.quotes+h.doms, b.N)
	}
}
