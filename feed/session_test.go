package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mdcap/mdcap/schema"
)

func TestSessionStreamsSubscribesAndStopsCleanly(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6", "NQZ6")
	cfg.DOM = true
	r := start(t, cfg, rec)
	fc := fs.nextConn(t)
	auth := fc.nextReq(t, "authorize")
	if auth.body != "md-token-1" || auth.query != "" {
		t.Fatalf("authorize must carry the raw md token, got query %q body %q", auth.query, auth.body)
	}
	for _, sym := range []string{"ESZ6", "NQZ6"} {
		e := rec.waitEvent(EventSubscribed, 1, func(e Event) bool { return e.Symbol == sym })
		if e.ConnID != 1 || e.ContractID != fs.contracts[sym] || fmt.Sprint(e.Detail["tables"]) != "[quotes dom]" {
			t.Fatalf("subscribed event %+v", e)
		}
	}
	var sub []string
	for len(sub) < 4 {
		select {
		case req := <-fc.reqs:
			sub = append(sub, req.endpoint+" "+req.body)
		case <-time.After(5 * time.Second):
			t.Fatalf("subscriptions %v", sub)
		}
	}
	ts := time.Date(2026, 11, 25, 12, 0, 0, 250e6, time.UTC)
	before := time.Now()
	fc.quote(1001, ts, 1)
	fc.send(`a[{"e":"md","d":{"doms":[{"contractId":1002,"timestamp":"2026-11-25T12:00:00.5Z","bids":[{"price":10,"size":2}],"offers":[]}]}}]`)
	q := rec.waitQuotes(1)[0]
	if q.ContractID != 1001 || q.Timestamp != ts.UnixNano() || q.Bid != 1 || q.conn != 1 || q.recv < before.UnixNano() {
		t.Fatalf("quote %+v", q)
	}
	if got := r.stop(t); got != nil {
		t.Fatalf("Run returned %v after cancel", got)
	}
	var unsub []string
	for len(fc.reqs) > 0 {
		req := <-fc.reqs
		if strings.HasPrefix(req.endpoint, "md/unsubscribe") {
			unsub = append(unsub, req.endpoint+" "+req.body)
		}
	}
	if strings.Count(strings.Join(sub, ","), "md/subscribe") != 4 || len(unsub) != 4 {
		t.Fatalf("subscribes %v, unsubscribes on stop %v", sub, unsub)
	}
	if !fc.gotClose.Load() {
		t.Fatal("no close frame on stop")
	}
	if rec.count(EventDown) != 0 || rec.count(EventClosed) != 1 {
		t.Fatalf("events %v", rec.kinds())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.doms) != 1 || rec.doms[0].Bids[0].Price != 10 {
		t.Fatalf("doms %+v", rec.doms)
	}
}

func TestHeartbeatsKeepGoingAndQuietMarketDoesNotFlap(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6")
	r := start(t, cfg, rec)
	fc := fs.nextConn(t)
	rec.waitEvent(EventSubscribed, 1, nil)
	// The server sends nothing at all (no quotes, no `h`): only pongs keep
	// the connection alive, and heartbeats must still go out on time.
	var times []time.Time
	deadline := time.After(4 * cfg.StaleAfter)
loop:
	for {
		select {
		case ts := <-fc.hbTimes:
			times = append(times, ts)
		case <-deadline:
			break loop
		}
	}
	if len(times) < 12 {
		t.Fatalf("only %d heartbeats in %s at %s", len(times), 4*cfg.StaleAfter, cfg.Heartbeat)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap > 4*cfg.Heartbeat {
			t.Errorf("heartbeat gap %s", gap)
		}
	}
	if n := rec.count(EventDown); n != 0 {
		t.Fatalf("quiet connection dropped: %v", rec.kinds())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestDropsAreClassifiedAndReconnected(t *testing.T) {
	cases := []struct {
		name   string
		act    func(fc *fakeConn)
		reason string
		code   int
	}{
		{"cut_tcp", func(fc *fakeConn) { fc.cut() }, schema.ReasonEOF, 0},
		{"c_frame", func(fc *fakeConn) { fc.send(`c[3000,"Go away!"]`) }, schema.ReasonServerClose, 3000},
		{"ws_close", func(fc *fakeConn) {
			fc.writeMu.Lock()
			_ = fc.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
			fc.writeMu.Unlock()
		}, schema.ReasonServerClose, 4001},
		{"half_open", func(fc *fakeConn) { fc.stall() }, schema.ReasonStale, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			rec := newRecorder(t)
			cfg := testConfig(fs, "ESZ6")
			r := start(t, cfg, rec)
			fc := fs.nextConn(t)
			rec.waitEvent(EventSubscribed, 1, nil)
			fc.quote(1001, time.Now(), 1)
			q := rec.waitQuotes(1)[0]
			acted := time.Now()
			tc.act(fc)
			down := rec.waitEvent(EventDown, 1, nil)
			if down.Reason != tc.reason || down.ConnID != 1 {
				t.Fatalf("down %+v, want reason %s", down, tc.reason)
			}
			if tc.code != 0 && down.Detail["close_code"] != tc.code {
				t.Fatalf("close code %v, want %d", down.Detail["close_code"], tc.code)
			}
			if down.LastFrame.UnixNano() < q.recv {
				t.Fatalf("last frame %v before the last quote's receive time", down.LastFrame)
			}
			if tc.reason == schema.ReasonStale {
				if took := down.Time.Sub(acted); took > cfg.StaleAfter+400*time.Millisecond {
					t.Fatalf("stale connection detected after %s (stale-after %s)", took, cfg.StaleAfter)
				}
			}
			fc2 := fs.nextConn(t)
			sub := rec.waitEvent(EventSubscribed, 2, nil)
			if sub.ConnID != 2 || !fc2.subscribed("md/subscribequote", "ESZ6") {
				t.Fatalf("resubscribe %+v", sub)
			}
			fc2.quote(1001, time.Now(), 2)
			if q := rec.waitQuotes(2)[1]; q.conn != 2 {
				t.Fatalf("quote from conn %d", q.conn)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRequestWithoutResponseDropsConnection(t *testing.T) {
	fs := newFakeServer(t)
	fs.respond = func(fc *fakeConn, r fakeReq) bool {
		return fc.n == 1 && r.endpoint == "md/subscribeQuote" // never answered on conn 1
	}
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6")
	r := start(t, cfg, rec)
	fs.nextConn(t)
	down := rec.waitEvent(EventDown, 1, nil)
	if down.Reason != schema.ReasonRequestTimeout || down.ConnID != 1 {
		t.Fatalf("down %+v", down)
	}
	if sub := rec.waitEvent(EventSubscribed, 1, nil); sub.ConnID != 2 {
		t.Fatalf("subscribed %+v", sub)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestRequestIDsUniqueAcrossReconnects(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6", "NQZ6")
	cfg.DOM = true
	r := start(t, cfg, rec)
	seen := map[int64]int{}
	last := int64(0)
	for n := 1; n <= 3; n++ {
		fc := fs.nextConn(t)
		// authorize + 4 subscriptions on every connection
		for k := 0; k < 5; k++ {
			var req fakeReq
			select {
			case req = <-fc.reqs:
			case <-time.After(5 * time.Second):
				t.Fatalf("conn %d: only %d requests", n, k)
			}
			if prev, dup := seen[req.id]; dup {
				t.Fatalf("request id %d reused (conn %d and %d)", req.id, prev, n)
			}
			seen[req.id] = n
			if req.endpoint == "authorize" && req.id <= last {
				t.Fatalf("authorize id %d not above earlier ids (%d)", req.id, last)
			}
			last = max(last, req.id)
		}
		rec.waitEvent(EventSubscribed, 2*n, nil)
		fc.cut()
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownEventReconnectsAfterMaintenanceWait(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6")
	r := start(t, cfg, rec)
	fc := fs.nextConn(t)
	rec.waitEvent(EventSubscribed, 1, nil)
	fc.send(`a[{"e":"shutdown","d":{"reasonCode":"Maintenance","reason":"weekly"}}]`)
	sd := rec.waitEvent(EventShutdown, 1, nil)
	if sd.Reason != "Maintenance" || sd.Detail["reason"] != "weekly" {
		t.Fatalf("shutdown %+v", sd)
	}
	down := rec.waitEvent(EventDown, 1, nil)
	if down.Reason != schema.ReasonShutdownEvent {
		t.Fatalf("down %+v", down)
	}
	fs.nextConn(t)
	sub := rec.waitEvent(EventSubscribed, 2, nil)
	if waited := sub.Time.Sub(down.Time); waited < cfg.MaintenanceWait {
		t.Fatalf("reconnected after %s, maintenance wait is %s", waited, cfg.MaintenanceWait)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedFramesAreFoldedAnomalies(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6")
	r := start(t, cfg, rec)
	fc := fs.nextConn(t)
	rec.waitEvent(EventSubscribed, 1, nil)
	for _, f := range []string{"x", `a[{"e":"md","d":{"quotes":[{]}}]`, `a[{"s":200,"i":99999}]`, "c[oops", `a[{"e":"md","d":{"quotes":[{"contractId":1001}]}}]`} {
		fc.send(f)
	}
	fc.writeMu.Lock()
	_ = fc.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2})
	fc.writeMu.Unlock()
	fc.quote(1001, time.Now(), 7)
	if q := rec.waitQuotes(1)[0]; q.Bid != 7 {
		t.Fatalf("quote %+v", q)
	}
	an := rec.waitEvent(EventAnomaly, 1, nil)
	if an.Detail["count"] != 6 || an.ConnID != 1 {
		t.Fatalf("anomaly %+v", an)
	}
	if rec.count(EventDown) != 0 || rec.count(EventAnomaly) != 1 {
		t.Fatalf("events %v", rec.kinds())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestPenaltiesOnSocketRequests(t *testing.T) {
	fs := newFakeServer(t)
	penalised := map[string]bool{}
	fs.respond = func(fc *fakeConn, r fakeReq) bool {
		switch r.endpoint {
		case "md/subscribeQuote":
			if !penalised["ticket"] {
				penalised["ticket"] = true
				fc.sendf(`a[{"s":200,"i":%d,"d":{"p-ticket":"tkt-1","p-time":0.05}}]`, r.id)
				return true
			}
			if !strings.Contains(r.body, `"p-ticket":"tkt-1"`) {
				t.Errorf("retry without p-ticket: %s", r.body)
			}
		case "md/subscribeDOM":
			if !penalised["429"] {
				penalised["429"] = true
				fc.sendf(`a[{"s":429,"i":%d}]`, r.id)
				return true
			}
		}
		return false
	}
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6")
	cfg.DOM = true
	r := start(t, cfg, rec)
	fs.nextConn(t)
	rec.waitEvent(EventSubscribed, 1, nil)
	p1 := rec.waitEvent(EventPenalty, 1, nil)
	p2 := rec.waitEvent(EventPenalty, 2, nil)
	statuses := fmt.Sprint(p1.Detail["status"], p2.Detail["status"])
	if statuses != "200 429" && statuses != "429 200" {
		t.Fatalf("penalties %+v %+v", p1, p2)
	}
	if rec.count(EventDown) != 0 {
		t.Fatalf("events %v", rec.kinds())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimiterSpacesRequests(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "A", "B", "C", "D", "E")
	for i, s := range cfg.Symbols {
		fs.contracts[s] = int64(10 + i)
	}
	cfg.RequestRate, cfg.RequestBurst = 50, 1
	r := start(t, cfg, rec)
	fc := fs.nextConn(t)
	rec.waitEvent(EventSubscribed, 5, nil)
	var at []time.Time
	for len(fc.reqs) > 0 {
		at = append(at, (<-fc.reqs).at)
	}
	if len(at) != 6 {
		t.Fatalf("%d requests", len(at))
	}
	if span := at[5].Sub(at[0]); span < 80*time.Millisecond {
		t.Fatalf("6 requests at 50/s took only %s", span)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestAuthPenaltyThenSuccess(t *testing.T) {
	fs := newFakeServer(t)
	n := 0
	fs.auth = func(w http.ResponseWriter, r *http.Request) bool {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		n++
		if n == 1 {
			writeJSON(w, map[string]any{"p-ticket": "auth-ticket", "p-time": 0.05})
			return true
		}
		if body["p-ticket"] != "auth-ticket" {
			t.Errorf("retry without p-ticket: %v", body["p-ticket"])
		}
		writeJSON(w, fs.newToken())
		return true
	}
	rec := newRecorder(t)
	r := start(t, testConfig(fs, "ESZ6"), rec)
	fs.nextConn(t)
	rec.waitEvent(EventSubscribed, 1, nil)
	if p := rec.waitEvent(EventPenalty, 1, nil); p.Detail["endpoint"] != "auth/accesstokenrequest" {
		t.Fatalf("penalty %+v", p)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestPermanentErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(fs *fakeServer, cfg *Config)
		want  string
	}{
		{"captcha", func(fs *fakeServer, cfg *Config) {
			fs.auth = func(w http.ResponseWriter, r *http.Request) bool {
				writeJSON(w, map[string]any{"p-ticket": "x", "p-time": 0, "p-captcha": true})
				return true
			}
		}, "captcha"},
		{"bad_credentials", func(fs *fakeServer, cfg *Config) { cfg.Credentials.Password = "wrong" }, "Incorrect username or password"},
		{"http_401", func(fs *fakeServer, cfg *Config) {
			fs.auth = func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(401); return true }
		}, "rejected"},
		{"unknown_symbol_rest", func(fs *fakeServer, cfg *Config) { cfg.Symbols = []string{"ESZ6", "XXZ9"} }, `"XXZ9"`},
		{"unknown_symbol_socket", func(fs *fakeServer, cfg *Config) { fs.findFail = true; cfg.Symbols = []string{"XXZ9"} }, `"XXZ9"`},
		{"rejected_token_no_credentials", func(fs *fakeServer, cfg *Config) {
			cfg.Credentials = Credentials{}
			cfg.AccessToken = "bogus"
		}, "no credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			cfg := testConfig(fs, "ESZ6")
			tc.setup(fs, &cfg)
			s, err := NewSession(cfg, newRecorder(t))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Run(t.Context()) }()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not give up")
			}
			if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a permanent error mentioning %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "bogus") {
				t.Fatalf("error leaks a secret: %v", err)
			}
			if n := fs.tokenReqs.Load(); n > 1 {
				t.Fatalf("%d token requests: a permanent failure must not be retried", n)
			}
			checkNoFeedGoroutines(t)
		})
	}
}

func TestContractLookupFallsBackToSocket(t *testing.T) {
	fs := newFakeServer(t)
	fs.findFail = true
	rec := newRecorder(t)
	r := start(t, testConfig(fs, "NQZ6"), rec)
	fc := fs.nextConn(t)
	if req := fc.nextReq(t, "contract/find"); req.query != "name=NQZ6" {
		t.Fatalf("contract/find query %q", req.query)
	}
	if e := rec.waitEvent(EventSubscribed, 1, nil); e.ContractID != 1002 {
		t.Fatalf("subscribed %+v", e)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestTokenRenewedAndUsedAcrossReconnects(t *testing.T) {
	fs := newFakeServer(t)
	fs.lifetime = 400 * time.Millisecond // renewal at half the lifetime
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6")
	r := start(t, cfg, rec)
	fc := fs.nextConn(t)
	if a := fc.nextReq(t, "authorize"); a.body != "md-token-1" {
		t.Fatalf("authorize %q", a.body)
	}
	rec.waitEvent(EventToken, 2, nil) // requested, renewed
	if exp := r.s.TokenExpiry(); time.Until(exp) < 100*time.Millisecond {
		t.Fatalf("token expiry %v not extended", exp)
	}
	fc.cut()
	fc2 := fs.nextConn(t)
	// Renewal returned no mdAccessToken: the old md token is kept.
	if a := fc2.nextReq(t, "authorize"); a.body != "md-token-1" {
		t.Fatalf("authorize after renewal %q", a.body)
	}
	fs.mu.Lock()
	fs.renewMD = true
	fs.mu.Unlock()
	rec.waitEvent(EventToken, 4, nil)
	fc2.cut()
	fc3 := fs.nextConn(t)
	if a := fc3.nextReq(t, "authorize"); !strings.HasPrefix(a.body, "md-token-") || a.body == "md-token-1" {
		t.Fatalf("authorize after md renewal %q", a.body)
	}
	if fs.tokenReqs.Load() != 1 {
		t.Fatalf("%d token requests; renewals must reuse the session", fs.tokenReqs.Load())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestSecretRedaction(t *testing.T) {
	s := Secret("hunter2")
	b, _ := json.Marshal(struct{ P Secret }{s})
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %s %q %#v %x", s, s, s, s, s), string(b)} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal")
	}
}

func TestDropFailsPendingRequestsAtOnce(t *testing.T) {
	fs := newFakeServer(t)
	cut := make(chan struct{})
	fs.respond = func(fc *fakeConn, r fakeReq) bool {
		if fc.n == 1 && r.endpoint == "md/subscribeQuote" {
			select {
			case <-cut:
			default:
				close(cut)
				go fc.cut() // the answer never comes: the connection dies first
			}
			return true
		}
		return false
	}
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6", "NQZ6")
	cfg.RequestTimeout = 3 * time.Second
	r := start(t, cfg, rec)
	fs.nextConn(t)
	<-cut
	began := time.Now()
	sub := rec.waitEvent(EventSubscribed, 1, nil)
	if took := time.Since(began); took > time.Second || sub.ConnID != 2 {
		t.Fatalf("pending requests were not failed at once: resubscribed on conn %d after %s", sub.ConnID, took)
	}
	if rec.count(EventDown) != 1 {
		t.Fatalf("events %v", rec.kinds())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if st := r.s.Stats(); st.Frames == 0 || st.Bytes == 0 || st.Drops != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStopWhileReconnecting(t *testing.T) {
	fs := newFakeServer(t)
	rec := newRecorder(t)
	cfg := testConfig(fs, "ESZ6")
	cfg.BackoffMin, cfg.BackoffMax = 5*time.Second, 5*time.Second
	r := start(t, cfg, rec)
	fc := fs.nextConn(t)
	rec.waitEvent(EventSubscribed, 1, nil)
	fc.cut()
	rec.waitEvent(EventDown, 1, nil)
	began := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > time.Second {
		t.Fatalf("stop during backoff took %s", took)
	}
}
