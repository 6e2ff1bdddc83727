package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
)

// hostileServer is a scripted Tradovate-like server whose answers and
// market data are hostile: odd contract names, huge and non-finite
// numbers, absurd timestamps, deeply nested JSON and a frame far above the
// read limit. The first connection gets the hostile burst and then the
// giant frame, the second a shutdown event with odd values, later ones
// ordinary quotes.
type hostileServer struct {
	t       *testing.T
	srv     *httptest.Server
	ids     map[string]int64 // configured symbol → contract id
	conns   atomic.Int64
	mu      sync.Mutex
	wg      sync.WaitGroup
	done    chan struct{}
	wsConns []*websocket.Conn
}

func newHostileServer(t *testing.T, ids map[string]int64) *hostileServer {
	h := &hostileServer{t: t, ids: ids, done: make(chan struct{})}
	mux := http.NewServeMux()
	token := func(w http.ResponseWriter, _ *http.Request) {
		writeJSONBody(w, map[string]any{"accessToken": "hostile-access", "mdAccessToken": "hostile-md",
			"expirationTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano), "userStatus": "Active"})
	}
	mux.HandleFunc("/v1/auth/accesstokenrequest", token)
	mux.HandleFunc("/v1/auth/renewaccesstoken", token)
	mux.HandleFunc("/v1/contract/find", func(w http.ResponseWriter, r *http.Request) {
		id, ok := ids[r.URL.Query().Get("name")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		// The name the server gives back is not the one asked for.
		writeJSONBody(w, map[string]any{"id": id, "name": "../../../etc/passwd\x00" + strings.Repeat("../", 100)})
	})
	mux.HandleFunc("/v1/websocket", h.serveWS)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(h.done)
		h.mu.Lock()
		for _, c := range h.wsConns {
			c.Close()
		}
		h.mu.Unlock()
		h.srv.Close()
		h.wg.Wait()
	})
	return h
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (h *hostileServer) wsURL() string {
	return "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/v1/websocket"
}

// burst is the hostile market data for contract id.
func hostileBurst(id int64) []string {
	q := func(ts, entries string) string {
		return fmt.Sprintf(`a[{"e":"md","d":{"quotes":[{"timestamp":%s,"contractId":%d,"entries":%s}]}}]`, ts, id, entries)
	}
	now := fmt.Sprintf("%q", time.Now().UTC().Format(time.RFC3339Nano))
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	bigDOM := make([]string, 50000)
	for i := range bigDOM {
		bigDOM[i] = fmt.Sprintf(`{"price":%d.25,"size":1e300}`, i)
	}
	return []string{
		q(now, `{"Bid":{"price":1.7976931348623157e308,"size":-1.7976931348623157e308},"Offer":{"price":5e-324,"size":0}}`),
		q(now, `{"Bid":{"price":1e999,"size":-1e999}}`),
		q(now, `{"Bid":{"price":NaN,"size":Infinity}}`),
		q(now, `{"Bid":{"price":"12","size":null},"Trade":{"price":{},"size":[]}}`),
		q(`"9999-12-31T23:59:59.999999999Z"`, `{"Bid":{"price":1,"size":1}}`),
		q(`"0001-01-01T00:00:00Z"`, `{"Bid":{"price":2,"size":1}}`),
		q(`"+300000-01-01T00:00:00Z"`, `{"Bid":{"price":3,"size":1}}`),
		q(`"2026-11-25T10:00:00Z/../../x"`, `{"Bid":{"price":4,"size":1}}`),
		fmt.Sprintf(`a[{"e":"md","d":{"quotes":[{"timestamp":%s,"contractId":9223372036854775807,"entries":{}}]}}]`, now),
		fmt.Sprintf(`a[{"e":"md","d":{"quotes":[{"timestamp":%s,"contractId":-1,"entries":{}}]}}]`, now),
		fmt.Sprintf(`a[{"e":"md","d":{"quotes":[{"timestamp":%s,"contractId":1e400,"entries":{}}]}}]`, now),
		"a" + deep,
		`a[{"e":"md","d":` + deep + `}]`,
		fmt.Sprintf(`a[{"e":"md","d":{"doms":[{"timestamp":%s,"contractId":%d,"bids":[%s],"offers":[]}]}}]`, now, id, strings.Join(bigDOM, ",")),
		"a[" + strings.Repeat(`{"e":"md","d":{}},`, 1000) + `{}]`,
	}
}

func (h *hostileServer) serveWS(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	h.mu.Lock()
	h.wsConns = append(h.wsConns, ws)
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	defer ws.Close()
	n := h.conns.Add(1)
	var wmu sync.Mutex
	send := func(s string) error {
		wmu.Lock()
		defer wmu.Unlock()
		_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return ws.WriteMessage(websocket.TextMessage, []byte(s))
	}
	_ = send("o")
	stop := make(chan struct{})
	defer close(stop)
	started := false
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if string(data) == "[]" {
			continue
		}
		parts := strings.SplitN(string(data), "\n", 4)
		if len(parts) != 4 {
			continue
		}
		var id int64
		fmt.Sscan(parts[1], &id)
		_ = send(fmt.Sprintf(`a[{"s":200,"i":%d}]`, id))
		if !strings.HasPrefix(parts[0], "md/subscribe") || started {
			continue
		}
		started = true
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			switch n {
			case 1:
				for _, cid := range h.ids {
					for _, f := range hostileBurst(cid) {
						if send(f) != nil {
							return
						}
					}
				}
			case 2:
				_ = send(`a[{"e":"shutdown","d":{"reasonCode":"../../etc","reason":"` + strings.Repeat("x", 100000) + `"}}]`)
				return
			}
			if n == 1 { // far above the recorder's 16 MiB read limit, streamed
				wmu.Lock()
				_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if fw, err := ws.NextWriter(websocket.TextMessage); err == nil {
					chunk := []byte(strings.Repeat("9", 1<<20))
					_, _ = fw.Write([]byte(`a[{"e":"md","d":{"quotes":[{"contractId":1,"entries":{"Bid":{"price":`))
					for i := 0; i < 64; i++ {
						if _, err := fw.Write(chunk); err != nil {
							break
						}
					}
					_ = fw.Close()
				}
				wmu.Unlock()
				return
			}
			// Later connections: ordinary quotes until the end.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				case <-h.done:
					return
				case <-tick.C:
				}
				for _, cid := range h.ids {
					f := fmt.Sprintf(`a[{"e":"md","d":{"quotes":[{"timestamp":%q,"contractId":%d,"entries":{"Bid":{"price":%d,"size":1}}}]}}]`,
						time.Now().UTC().Format(time.RFC3339Nano), cid, seq)
					if send(f) != nil {
						return
					}
				}
			}
		}()
	}
}

// TestRecord_HostileServer: hostile answers and data from the server
// neither crash the recorder, nor write outside --out, nor make it hold
// more than a bounded amount of memory; bad frames become anomaly rows,
// the giant frame a drop with its gap, and recording goes on.
func TestRecord_HostileServer(t *testing.T) {
	syms := map[string]int64{"../evil": 101, "ES Z6/..": 102, "..": 103}
	h := newHostileServer(t, syms)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	var symbols []string
	for s := range syms {
		symbols = append(symbols, s)
	}
	logs := &syncBuffer{}
	cfg := recordConfig{
		Out: out, Symbols: symbols, MDURL: h.wsURL(), AuthURL: h.srv.URL + "/v1",
		AccessToken: "hostile-access", WriterID: "hostile", SyncInterval: time.Second,
		Heartbeat: 200 * time.Millisecond, StaleAfter: 2 * time.Second, RequestTimeout: 2 * time.Second,
		MaxConnAge: 23 * time.Hour, RollInterval: 300 * time.Millisecond, RollSize: 128 << 20, Buffer: 4096,
		LogFormat: "json",
	}
	cfg.hooks.feed = func(c *feed.Config) {
		c.BackoffMin, c.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
		c.MaintenanceWait = 100 * time.Millisecond
	}
	// Sample the heap while the recorder runs (the server shares the
	// process but streams its giant frame without holding it).
	var peak atomic.Uint64
	sampling := make(chan struct{})
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	w := newWatcher()
	cfg.hooks.handler = w.wrap
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- record(ctx, cfg, logs) }()
	// Wait until a later connection has delivered ordinary quotes.
	w.await(t, "ordinary quotes on a later connection", func() bool {
		if w.conn < 3 {
			return false
		}
		n := 0
		for _, c := range w.data[w.conn] {
			n += c
		}
		return n >= 20
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("record: %v\n%s", err, tail(logs.String()))
	}
	close(sampling)
	swg.Wait()
	if h.conns.Load() < 3 {
		t.Errorf("the giant frame and the shutdown did not end two connections (%d connections)", h.conns.Load())
	}
	if p := peak.Load(); p > 256<<20 {
		t.Errorf("heap in use peaked at %d MiB", p>>20)
	}

	if es, err := os.ReadDir(parent); err != nil || len(es) != 1 || es[0].Name() != "out" {
		t.Errorf("something was written beside --out: %v %v", es, err)
	}
	d, err := capturetest.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Files {
		rel, err := filepath.Rel(out, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("file outside --out: %s", f)
		}
	}
	anomalies, gaps, quotes := 0, 0, 0
	for sym := range d.Events {
		if _, ok := syms[sym]; !ok {
			t.Errorf("events partition of an unconfigured symbol %q", sym)
		}
		anomalies += len(d.Kind(sym, schema.KindAnomaly))
		gaps += len(d.Kind(sym, schema.KindGap))
	}
	for sym, rows := range d.Quotes {
		if _, ok := syms[sym]; !ok {
			t.Errorf("quotes partition of an unconfigured symbol %q", sym)
		}
		quotes += len(rows)
	}
	if anomalies == 0 {
		t.Error("no anomaly row for the malformed frames")
	}
	if gaps == 0 {
		t.Error("no gap for the connection the giant frame ended")
	}
	if quotes == 0 {
		t.Error("no quotes recorded: the recorder did not go on after the hostile burst")
	}
	t.Logf("%d connections, %d quotes, %d anomaly rows, %d gap rows, heap peak %d MiB",
		h.conns.Load(), quotes, anomalies, gaps, peak.Load()>>20)
}

func tail(s string) string {
	if len(s) > 20000 {
		return "…" + s[len(s)-20000:]
	}
	return s
}
