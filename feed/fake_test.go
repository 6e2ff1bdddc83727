package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// fakeServer is a scripted Tradovate-like server for the feed's unit
// tests: REST auth and contract lookup, and a WebSocket endpoint whose
// every connection the test can drive (send frames, stop answering, cut
// TCP, stall, delay responses).
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	conns  chan *fakeConn
	done   chan struct{}
	nconns atomic.Int32

	mu        sync.Mutex
	all       []*fakeConn
	respond   func(fc *fakeConn, r fakeReq) bool // returns true when it answered (or chose not to)
	auth      func(w http.ResponseWriter, r *http.Request) bool
	contracts map[string]int64
	lifetime  time.Duration
	tokenSeq  int
	renewMD   bool // renewal returns a new mdAccessToken too
	validMD   map[string]bool
	tokenReqs atomic.Int32
	renewReqs atomic.Int32
	findReqs  atomic.Int32
	findFail  bool // contract/find over REST answers 500
}

type fakeReq struct {
	endpoint string
	id       int64
	query    string
	body     string
	at       time.Time
}

type fakeConn struct {
	s          *fakeServer
	n          int
	ws         *websocket.Conn
	writeMu    sync.Mutex
	reqs       chan fakeReq
	heartbeats atomic.Int32
	hbTimes    chan time.Time
	stalled    chan struct{}
	stallOnce  sync.Once
	closed     chan struct{}
	gotClose   atomic.Bool
	mu         sync.Mutex
	subs       map[string]bool
}

func newFakeServer(t *testing.T) *fakeServer {
	fs := &fakeServer{
		t:         t,
		conns:     make(chan *fakeConn, 64),
		done:      make(chan struct{}),
		contracts: map[string]int64{"ESZ6": 1001, "NQZ6": 1002},
		lifetime:  90 * time.Minute,
		validMD:   map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/auth/accesstokenrequest", fs.handleToken)
	mux.HandleFunc("/v1/auth/renewaccesstoken", fs.handleRenew)
	mux.HandleFunc("/v1/contract/find", fs.handleFind)
	mux.HandleFunc("/v1/websocket", fs.handleWS)
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(fs.done)
		fs.mu.Lock()
		for _, c := range fs.all {
			c.ws.Close()
		}
		fs.mu.Unlock()
		fs.srv.Close()
	})
	return fs
}

func (fs *fakeServer) restURL() string { return fs.srv.URL + "/v1" }
func (fs *fakeServer) wsURL() string {
	return "ws" + strings.TrimPrefix(fs.srv.URL, "http") + "/v1/websocket"
}

func (fs *fakeServer) newToken() map[string]any {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.tokenSeq++
	md := fmt.Sprintf("md-token-%d", fs.tokenSeq)
	fs.validMD[md] = true
	fs.validMD[fmt.Sprintf("access-token-%d", fs.tokenSeq)] = true
	return map[string]any{
		"accessToken":    fmt.Sprintf("access-token-%d", fs.tokenSeq),
		"mdAccessToken":  md,
		"expirationTime": time.Now().Add(fs.lifetime).UTC().Format(time.RFC3339Nano),
		"userStatus":     "Active",
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (fs *fakeServer) handleToken(w http.ResponseWriter, r *http.Request) {
	fs.tokenReqs.Add(1)
	fs.mu.Lock()
	auth := fs.auth
	fs.mu.Unlock()
	if auth != nil && auth(w, r) {
		return
	}
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	if body["name"] != "user" || body["password"] != "pw-s3cr3t" {
		writeJSON(w, map[string]any{"errorText": "Incorrect username or password."})
		return
	}
	writeJSON(w, fs.newToken())
}

func (fs *fakeServer) handleRenew(w http.ResponseWriter, r *http.Request) {
	fs.renewReqs.Add(1)
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	fs.mu.Lock()
	ok := fs.validMD[bearer]
	renewMD := fs.renewMD
	fs.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	tok := fs.newToken()
	if !renewMD {
		delete(tok, "mdAccessToken")
	}
	writeJSON(w, tok)
}

func (fs *fakeServer) handleFind(w http.ResponseWriter, r *http.Request) {
	fs.findReqs.Add(1)
	fs.mu.Lock()
	fail := fs.findFail
	id, ok := fs.contracts[r.URL.Query().Get("name")]
	fs.mu.Unlock()
	switch {
	case fail:
		w.WriteHeader(http.StatusInternalServerError)
	case !ok:
		w.WriteHeader(http.StatusNotFound)
	default:
		writeJSON(w, map[string]any{"id": id, "name": r.URL.Query().Get("name")})
	}
}

func (fs *fakeServer) handleWS(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	fc := &fakeConn{s: fs, n: int(fs.nconns.Add(1)), ws: ws, reqs: make(chan fakeReq, 1024), hbTimes: make(chan time.Time, 4096),
		stalled: make(chan struct{}), closed: make(chan struct{}), subs: map[string]bool{}}
	fs.mu.Lock()
	fs.all = append(fs.all, fc)
	fs.mu.Unlock()
	defer close(fc.closed)
	defer ws.Close()
	ws.SetCloseHandler(func(code int, text string) error {
		fc.gotClose.Store(true)
		fc.writeMu.Lock()
		defer fc.writeMu.Unlock()
		return ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	})
	fc.send("o")
	fs.conns <- fc
	for {
		select {
		case <-fc.stalled:
			select {
			case <-fs.done:
			}
			return
		default:
		}
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		select {
		case <-fc.stalled:
			<-fs.done
			return
		default:
		}
		if string(data) == "[]" {
			fc.heartbeats.Add(1)
			select {
			case fc.hbTimes <- time.Now():
			default:
			}
			continue
		}
		parts := strings.SplitN(string(data), "\n", 4)
		if len(parts) != 4 {
			fs.t.Errorf("malformed request %q", data)
			continue
		}
		id, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			fs.t.Errorf("bad request id in %q", data)
		}
		req := fakeReq{endpoint: parts[0], id: id, query: parts[2], body: parts[3], at: time.Now()}
		select {
		case fc.reqs <- req:
		default:
		}
		fs.mu.Lock()
		respond := fs.respond
		fs.mu.Unlock()
		if respond != nil && respond(fc, req) {
			continue
		}
		fc.answer(req)
	}
}

// answer is the default behaviour of the server.
func (fc *fakeConn) answer(r fakeReq) {
	fs := fc.s
	switch strings.ToLower(r.endpoint) {
	case "authorize":
		fs.mu.Lock()
		ok := fs.validMD[r.body]
		fs.mu.Unlock()
		if !ok {
			fc.sendf(`a[{"s":401,"i":%d,"d":"Invalid access token"}]`, r.id)
			return
		}
		fc.sendf(`a[{"s":200,"i":%d}]`, r.id)
	case "md/subscribequote", "md/subscribedom":
		var b struct{ Symbol string }
		_ = json.Unmarshal([]byte(r.body), &b)
		fc.mu.Lock()
		fc.subs[strings.ToLower(r.endpoint)+" "+b.Symbol] = true
		fc.mu.Unlock()
		fc.sendf(`a[{"s":200,"i":%d}]`, r.id)
	case "md/unsubscribequote", "md/unsubscribedom":
		var b struct{ Symbol string }
		_ = json.Unmarshal([]byte(r.body), &b)
		fc.mu.Lock()
		delete(fc.subs, strings.Replace(strings.ToLower(r.endpoint), "unsub", "sub", 1)+" "+b.Symbol)
		fc.mu.Unlock()
		fc.sendf(`a[{"s":200,"i":%d}]`, r.id)
	case "contract/find":
		name := strings.TrimPrefix(r.query, "name=")
		fs.mu.Lock()
		id, ok := fs.contracts[name]
		fs.mu.Unlock()
		if !ok {
			fc.sendf(`a[{"s":404,"i":%d,"d":"\"Not found\""}]`, r.id)
			return
		}
		fc.sendf(`a[{"s":200,"i":%d,"d":{"id":%d,"name":%q}}]`, r.id, id, name)
	default:
		fc.sendf(`a[{"s":404,"i":%d,"d":"\"Not found: %s\""}]`, r.id, r.endpoint)
	}
}

func (fc *fakeConn) send(frame string) {
	fc.writeMu.Lock()
	defer fc.writeMu.Unlock()
	_ = fc.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(frame))
}

func (fc *fakeConn) sendf(format string, args ...any) { fc.send(fmt.Sprintf(format, args...)) }

// quote sends one quote update for contract with bid = seq.
func (fc *fakeConn) quote(contract int64, ts time.Time, seq int) {
	fc.sendf(`a[{"e":"md","d":{"quotes":[{"timestamp":%q,"contractId":%d,"entries":{"Bid":{"price":%d,"size":1}}}]}}]`,
		ts.UTC().Format(time.RFC3339Nano), contract, seq)
}

// cut closes TCP without a close frame.
func (fc *fakeConn) cut() { fc.ws.NetConn().Close() }

// stall stops reading and writing but keeps TCP open (half-open).
func (fc *fakeConn) stall() { fc.stallOnce.Do(func() { close(fc.stalled) }) }

func (fc *fakeConn) subscribed(endpoint, sym string) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.subs[endpoint+" "+sym]
}

// nextReq waits for the next request (heartbeats excluded) with endpoint.
func (fc *fakeConn) nextReq(t *testing.T, endpoint string) fakeReq {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case r := <-fc.reqs:
			if strings.EqualFold(r.endpoint, endpoint) {
				return r
			}
		case <-timeout:
			t.Fatalf("conn %d: no %s request", fc.n, endpoint)
		}
	}
}

// market sends quote seq 1, 2, … for contract every period to every
// connection subscribed to sym, until stop is closed.
func (fs *fakeServer) market(sym string, contract int64, period time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for seq := 1; ; seq++ {
		select {
		case <-stop:
			return
		case <-fs.done:
			return
		case <-t.C:
		}
		fs.mu.Lock()
		conns := append([]*fakeConn(nil), fs.all...)
		fs.mu.Unlock()
		for _, fc := range conns {
			select {
			case <-fc.closed:
				continue
			default:
			}
			if fc.subscribed("md/subscribequote", sym) {
				fc.quote(contract, base.Add(time.Duration(seq)*time.Millisecond), seq)
			}
		}
	}
}

func (fs *fakeServer) nextConn(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-fs.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	return nil
}

// recorder is a Handler that keeps everything and checks that it is
// never called concurrently.
type recorder struct {
	t      *testing.T
	busy   atomic.Bool
	mu     sync.Mutex
	events []Event
	quotes []recQuote
	doms   []DOM
	notify chan struct{}
}

type recQuote struct {
	Quote
	conn int64
	recv int64
}

func newRecorder(t *testing.T) *recorder { return &recorder{t: t, notify: make(chan struct{}, 1)} }

func (r *recorder) enter() {
	if !r.busy.CompareAndSwap(false, true) {
		r.t.Error("handler called concurrently")
	}
}

func (r *recorder) HandleBatch(b *Batch) {
	r.enter()
	defer r.busy.Store(false)
	r.mu.Lock()
	for _, q := range b.Quotes {
		r.quotes = append(r.quotes, recQuote{q, b.ConnID, b.RecvTime})
	}
	for _, d := range b.DOMs {
		r.doms = append(r.doms, copyDOM(&d))
	}
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) HandleEvent(e Event) {
	r.enter()
	defer r.busy.Store(false)
	if b, err := json.Marshal(e.Detail); err != nil || strings.Contains(string(b), "token-") {
		r.t.Errorf("event detail leaks or fails: %s %v", b, err)
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// waitEvent waits for the n-th (1-based) event of kind matching pred.
func (r *recorder) waitEvent(kind EventKind, n int, pred func(Event) bool) Event {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		seen := 0
		for _, e := range r.events {
			if e.Kind == kind && (pred == nil || pred(e)) {
				seen++
				if seen == n {
					r.mu.Unlock()
					return e
				}
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			r.t.Fatalf("no event %s #%d; events: %v", kind, n, r.kinds())
		}
	}
}

// waitQuotes waits until at least n quotes were received.
func (r *recorder) waitQuotes(n int) []recQuote {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.quotes) >= n {
			q := append([]recQuote(nil), r.quotes...)
			r.mu.Unlock()
			return q
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			r.t.Fatalf("only %d quotes, want %d", len(r.quotes), n)
		}
	}
}

// waitQuote waits for a quote matching pred.
func (r *recorder) waitQuote(pred func(recQuote) bool) recQuote {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		for _, q := range r.quotes {
			if pred(q) {
				r.mu.Unlock()
				return q
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			r.t.Fatal("no matching quote")
		}
	}
}

func (r *recorder) count(kind EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		s := e.Kind.String()
		if e.Reason != "" {
			s += "(" + e.Reason + ")"
		}
		out = append(out, fmt.Sprintf("%s#%d%s", s, e.ConnID, e.Symbol))
	}
	return out
}

// testConfig is a fast configuration against fs.
func testConfig(fs *fakeServer, symbols ...string) Config {
	return Config{
		MDURL:           fs.wsURL(),
		AuthURL:         fs.restURL(),
		Credentials:     Credentials{Username: "user", Password: "pw-s3cr3t", AppID: "app", CID: "1", Sec: "sec"},
		Symbols:         symbols,
		Heartbeat:       50 * time.Millisecond,
		StaleAfter:      300 * time.Millisecond,
		RequestTimeout:  500 * time.Millisecond,
		BackoffMin:      10 * time.Millisecond,
		BackoffMax:      50 * time.Millisecond,
		LockoutWait:     50 * time.Millisecond,
		MaintenanceWait: 100 * time.Millisecond,
		RequestRate:     1000,
		RequestBurst:    100,
		Logger:          zerolog.New(zerolog.NewTestWriter(nil)).Level(zerolog.Disabled),
	}
}

// running is a session under test.
type running struct {
	s      *Session
	cancel context.CancelFunc
	errc   chan error
}

func start(t *testing.T, cfg Config, h Handler) *running {
	t.Helper()
	s, err := NewSession(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.errc:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return r
}

// stop cancels the session and returns Run's result, then checks that no
// goroutine of the feed outlived it.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	var err error
	select {
	case err = <-r.errc:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	r.errc <- err // for Cleanup
	checkNoFeedGoroutines(t)
	return err
}

// checkNoFeedGoroutines fails when a goroutine runs code of the session or
// a connection.
// A goroutine that already signalled its WaitGroup may still be on its
// way out, so the check retries briefly before it reports.
func checkNoFeedGoroutines(t *testing.T) {
	t.Helper()
	var leaked []string
	for try := 0; try < 100; try++ {
		leaked = leaked[:0]
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "feed.(*Session)") || strings.Contains(g, "feed.(*conn)") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines leaked after Run returned:\n%s", strings.Join(leaked, "\n\n"))
}

var _ = net.ErrClosed
