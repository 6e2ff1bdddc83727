package feed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/sim"
)

// Integration tests against the in-process simulator with its rules and
// faults switched on.

// syncBuffer is a ground-truth sink safe to read after the server closed.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSim starts a simulator with fast rules: the server cuts a client
// that sends nothing for 300ms, reuses an id, or sends more than 20
// requests in a second.
func startSim(t *testing.T, mut func(*sim.Config)) (*sim.Server, *syncBuffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("simulator integration test (skipped with -short)")
	}
	cfg := sim.DefaultConfig()
	cfg.Rate = 100
	cfg.Rules.Heartbeat = 100 * time.Millisecond
	cfg.Rules.ClientTimeout = 300 * time.Millisecond
	cfg.Rules.AuthorizeTimeout = time.Second
	cfg.Rules.CutDuplicateID = true
	cfg.Rules.MaxRequestsPerSecond = 20
	gt := &syncBuffer{}
	cfg.GroundTruth = gt
	if mut != nil {
		mut(&cfg)
	}
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, gt
}

func simConfig(s *sim.Server, symbols ...string) Config {
	return Config{
		MDURL:   s.WSURL(),
		AuthURL: s.RESTURL(),
		Credentials: Credentials{Username: sim.DefaultUsername, Password: sim.DefaultPassword, AppID: sim.DefaultAppID,
			AppVersion: "1.0", CID: sim.DefaultCID, Sec: sim.DefaultSec, DeviceID: "test-device"},
		Symbols:         symbols,
		Heartbeat:       50 * time.Millisecond,
		StaleAfter:      400 * time.Millisecond,
		RequestTimeout:  time.Second,
		BackoffMin:      10 * time.Millisecond,
		BackoffMax:      100 * time.Millisecond,
		LockoutWait:     100 * time.Millisecond,
		MaintenanceWait: 100 * time.Millisecond,
		RequestRate:     10,
		RequestBurst:    10,
		HTTPClient:      &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		Logger:          zerolog.Nop(),
	}
}

// waitQuotesFrom waits for a quote delivered by connection conn.
func (r *recorder) waitQuotesFrom(conn int64) {
	r.t.Helper()
	r.waitQuote(func(q recQuote) bool { return q.conn == conn })
}

func TestSimHeartbeatStarvation(t *testing.T) {
	s, _ := startSim(t, nil)
	rec := newRecorder(t)
	r := start(t, simConfig(s, "ESZ6"), rec)
	rec.waitEvent(EventSubscribed, 1, nil)

	// A naive client that only echoes `h` is cut while the server streams
	// (it sends no `h` then), as users report.
	naive, _, err := websocket.DefaultDialer.Dial(s.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer naive.Close()
	tok := r.s.token().mdToken().Reveal()
	_ = naive.WriteMessage(websocket.TextMessage, []byte("authorize\n1\n\n"+tok))
	_ = naive.WriteMessage(websocket.TextMessage, []byte("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}"))
	naiveDead := make(chan time.Duration, 1)
	go func() {
		began := time.Now()
		for {
			_ = naive.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, data, err := naive.ReadMessage()
			if err != nil {
				naiveDead <- time.Since(began)
				return
			}
			if string(data) == "h" {
				_ = naive.WriteMessage(websocket.TextMessage, []byte("[]"))
			}
		}
	}()
	select {
	case d := <-naiveDead:
		t.Logf("naive h-echo client cut after %s", d)
	case <-time.After(3 * time.Second):
		t.Fatal("the naive client was not cut: the simulator does not enforce client heartbeats")
	}
	// mdcap kept its own heartbeat: no drop over the same time and more.
	rec.waitQuote(func(q recQuote) bool { return q.recv > time.Now().Add(-100*time.Millisecond).UnixNano() })
	if n := rec.count(EventDown); n != 0 {
		t.Fatalf("mdcap dropped: %v", rec.kinds())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestSimFaults(t *testing.T) {
	cases := []struct {
		name   string
		inject func(s *sim.Server)
		reason string
		within time.Duration
	}{
		{"silent_drop", func(s *sim.Server) { s.DropAll() }, schema.ReasonEOF, time.Second},
		{"half_open_stall", func(s *sim.Server) { s.Stall(2 * time.Second) }, schema.ReasonStale, 400*time.Millisecond + 500*time.Millisecond},
		{"close_frame", func(s *sim.Server) { s.CloseAll(3000, "Go away!") }, schema.ReasonServerClose, time.Second},
		{"shutdown", func(s *sim.Server) { s.Shutdown("Maintenance", "weekly") }, schema.ReasonShutdownEvent, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startSim(t, nil)
			rec := newRecorder(t)
			cfg := simConfig(s, "ESZ6", "NQZ6")
			cfg.DOM = true
			r := start(t, cfg, rec)
			rec.waitEvent(EventSubscribed, 2, nil)
			rec.waitQuotesFrom(1)
			at := time.Now()
			tc.inject(s)
			down := rec.waitEvent(EventDown, 1, nil)
			if down.Reason != tc.reason || down.ConnID != 1 {
				t.Fatalf("down %+v, want %s; events %v", down, tc.reason, rec.kinds())
			}
			if took := down.Time.Sub(at); took > tc.within {
				t.Fatalf("drop detected after %s, want within %s", took, tc.within)
			}
			if down.LastFrame.After(down.Time) || down.LastFrame.Before(at.Add(-cfg.StaleAfter)) {
				t.Fatalf("last frame %v (fault at %v)", down.LastFrame, at)
			}
			if tc.reason == schema.ReasonShutdownEvent {
				if sd := rec.waitEvent(EventShutdown, 1, nil); sd.Reason != "Maintenance" {
					t.Fatalf("shutdown %+v", sd)
				}
			}
			rec.waitEvent(EventSubscribed, 4, nil)
			rec.waitQuotesFrom(down.ConnID + 1)
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSimMalformedFramesAreAnomalies(t *testing.T) {
	s, _ := startSim(t, nil)
	rec := newRecorder(t)
	r := start(t, simConfig(s, "ESZ6"), rec)
	rec.waitEvent(EventSubscribed, 1, nil)
	for _, kind := range []string{"json", "letter", "truncated"} {
		if err := s.Malformed(kind); err != nil {
			t.Logf("malformed %s: %v", kind, err)
		}
	}
	an := rec.waitEvent(EventAnomaly, 1, nil)
	if an.Detail["count"].(int) < 1 {
		t.Fatalf("anomaly %+v", an)
	}
	n := len(rec.waitQuotes(1))
	rec.waitQuote(func(q recQuote) bool { return q.recv > an.Time.UnixNano() })
	if rec.count(EventDown) != 0 {
		t.Fatalf("a malformed frame dropped the connection: %v (%d quotes)", rec.kinds(), n)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestSimAuthPenaltyAndTokenExpiry(t *testing.T) {
	s, _ := startSim(t, func(c *sim.Config) {
		c.PenaltyWait = 100 * time.Millisecond
		c.TokenLifetime = 600 * time.Millisecond
		c.Rules.TokenExpiry = sim.TokenCut
	})
	s.PenalizeAuth(1)
	rec := newRecorder(t)
	cfg := simConfig(s, "ESZ6")
	r := start(t, cfg, rec)
	if p := rec.waitEvent(EventPenalty, 1, nil); p.Detail["endpoint"] != "auth/accesstokenrequest" {
		t.Fatalf("penalty %+v", p)
	}
	rec.waitEvent(EventSubscribed, 1, nil)
	// Renewal at half the lifetime keeps the session (and the socket) alive
	// past several lifetimes.
	rec.waitEvent(EventToken, 4, nil) // requested + 3 renewals
	if rec.count(EventDown) != 0 {
		t.Fatalf("renewal did not keep the socket: %v", rec.kinds())
	}
	// Every token expires now: the socket is cut; the reconnect finds the
	// token rejected, requests a new one and resubscribes.
	s.ExpireTokens()
	rec.waitEvent(EventDown, 1, nil)
	rec.waitEvent(EventSubscribed, 2, nil)
	if !r.s.TokenExpiry().After(time.Now()) {
		t.Fatalf("token expiry %v is not in the future", r.s.TokenExpiry())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestSimLockoutPenaltyIsHonoured(t *testing.T) {
	s, _ := startSim(t, func(c *sim.Config) {
		c.Rules.LockoutRequests = 2
		c.Rules.LockoutWindow = time.Second
		c.Rules.LockoutFor = 150 * time.Millisecond
	})
	rec := newRecorder(t)
	cfg := simConfig(s, "ESZ6", "NQZ6")
	cfg.RequestRate, cfg.RequestBurst = 1000, 10
	cfg.LockoutWait = 200 * time.Millisecond
	r := start(t, cfg, rec)
	p := rec.waitEvent(EventPenalty, 1, nil)
	if p.Detail["status"] != 429 {
		t.Fatalf("penalty %+v", p)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// gtKey identifies one md update: contract, server timestamp, content.
type gtKey struct {
	contract int64
	ts       string
	bid      float64
}

func TestSimRotationZeroGapAgainstGroundTruth(t *testing.T) {
	s, gt := startSim(t, func(c *sim.Config) {
		c.Rate = 200
		// The server cuts older connections: rotation must beat it. The
		// margin (1.7 s for a rotation) covers -race on a loaded machine.
		c.Rules.MaxConnAge = 2500 * time.Millisecond
	})
	rec := newRecorder(t)
	cfg := simConfig(s, "ESZ6", "NQZ6")
	cfg.DOM = true
	cfg.MaxConnAge = 800 * time.Millisecond
	r := start(t, cfg, rec)
	for i := 1; i <= 4; i++ { // two rotations, two symbols
		rec.waitEvent(EventRotated, i, nil)
	}
	rec.waitEvent(EventClosed, 2, nil)
	rec.waitQuotesFrom(3)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// The server records a connection's end once it has read the close:
	// stopping it before then would record server_stop instead.
	for deadline := time.Now().Add(5 * time.Second); s.Conns() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(EventDown); n != 0 {
		t.Fatalf("rotation caused drops: %v", rec.kinds())
	}
	if ends := gtEnds(t, gt); ends["client_close"] < 3 || len(ends) != 1 {
		t.Fatalf("connection ends %v: want only polite closes (no max-age cut)", ends)
	}
	// Every update the server wrote (to any connection) between the first
	// and the last update of its kind mdcap passed on must have been passed
	// on exactly once.
	type kindKey struct {
		kind     string
		contract int64
	}
	// sent[k][ts] is how many distinct updates carried ts: the most any one
	// connection received (during a rotation both receive each one).
	sent := map[kindKey]map[string]int{}
	perConn := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(gt.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Conn       int64  `json:"conn"`
			ContractID int64  `json:"contractId"`
			Type       string `json:"type"`
			TS         string `json:"ts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Type == "" {
			continue
		}
		k := kindKey{line.Type, line.ContractID}
		if sent[k] == nil {
			sent[k] = map[string]int{}
		}
		ck := fmt.Sprint(k, line.TS, line.Conn)
		perConn[ck]++
		sent[k][line.TS] = max(sent[k][line.TS], perConn[ck])
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := map[kindKey][]string{}
	fmtTS := func(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z") }
	for _, q := range rec.quotes {
		k := kindKey{"quote", q.ContractID}
		got[k] = append(got[k], fmtTS(q.Timestamp))
	}
	for _, d := range rec.doms {
		k := kindKey{"dom", d.ContractID}
		got[k] = append(got[k], fmtTS(d.Timestamp))
	}
	if len(got) != 4 {
		t.Fatalf("updates for %d (kind, contract) pairs, want 4", len(got))
	}
	for k, tss := range got {
		passed := map[string]int{}
		for _, ts := range tss {
			passed[ts]++
		}
		for ts, n := range passed {
			if n != sent[k][ts] {
				t.Errorf("%v ts %s: passed on %d times, the server sent %d such updates", k, ts, n, sent[k][ts])
			}
		}
		first, last := tss[0], tss[len(tss)-1]
		missing := 0
		for ts := range sent[k] {
			if ts >= first && ts <= last && passed[ts] == 0 {
				missing++
				if missing < 5 {
					t.Errorf("%v: update at %s sent but not passed on (gap)", k, ts)
				}
			}
		}
		t.Logf("%v: %d updates passed on, %d missing", k, len(tss), missing)
		if len(tss) < 50 {
			t.Errorf("%v: only %d updates", k, len(tss))
		}
	}
}

// A socket whose token session expired stays open and silent (the
// server's TokenSilent policy): the refused renewal reveals it, and the
// drop is marked from the last data received.
func TestSimSilentAfterTokenExpiry(t *testing.T) {
	s, _ := startSim(t, func(c *sim.Config) {
		c.TokenLifetime = 800 * time.Millisecond
		c.Rules.TokenExpiry = sim.TokenSilent
	})
	rec := newRecorder(t)
	r := start(t, simConfig(s, "ESZ6"), rec)
	rec.waitEvent(EventSubscribed, 1, nil)
	rec.waitQuotesFrom(1)
	expired := time.Now()
	s.ExpireTokens()
	down := rec.waitEvent(EventDown, 1, nil)
	if down.ConnID != 1 || down.Reason != schema.ReasonStale || down.Detail["since_last_data"] != true {
		t.Fatalf("down %+v", down)
	}
	if down.LastFrame.After(expired.Add(50 * time.Millisecond)) {
		t.Fatalf("gap starts at %v, after the data stopped (%v)", down.LastFrame, expired)
	}
	rec.waitEvent(EventSubscribed, 2, nil)
	rec.waitQuote(func(q recQuote) bool { return q.conn > 1 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// gtEnds counts the connection end causes in the simulator's ground truth.
func gtEnds(t *testing.T, gt *syncBuffer) map[string]int {
	t.Helper()
	ends := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(gt.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			End string `json:"end"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.End != "" {
			ends[line.End]++
		}
	}
	return ends
}

// The simulator cuts a connection that reuses a request id; mdcap's ids
// are unique for the process, so across reconnects it is never cut for
// that, only by the injected drops, and it ends with its own close.
func TestSimUniqueIDsAcrossReconnects(t *testing.T) {
	s, gt := startSim(t, nil)
	// The rule is live: a client reusing id 1 is cut.
	naive, _, err := websocket.DefaultDialer.Dial(s.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = naive.WriteMessage(websocket.TextMessage, []byte("md/subscribeQuote\n1\n\n{\"symbol\":\"ESZ6\"}"))
	_ = naive.WriteMessage(websocket.TextMessage, []byte("md/subscribeQuote\n1\n\n{\"symbol\":\"NQZ6\"}"))
	for {
		_ = naive.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := naive.ReadMessage(); err != nil {
			break
		}
	}
	naive.Close()

	rec := newRecorder(t)
	cfg := simConfig(s, "ESZ6", "NQZ6")
	cfg.DOM = true
	r := start(t, cfg, rec)
	for n := 1; n <= 3; n++ {
		rec.waitEvent(EventSubscribed, 2*n, nil)
		s.DropAll()
		rec.waitEvent(EventDown, n, nil)
	}
	rec.waitEvent(EventSubscribed, 8, nil)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ends := gtEnds(t, gt)
	if ends["duplicate_id"] != 1 || ends["drop"] != 3 || ends["client_close"] != 1 || len(ends) != 3 {
		t.Fatalf("connection ends %v: want 1 duplicate_id (the naive client), 3 drops, 1 client_close", ends)
	}
}

// The simulator cuts a connection that sends more than 8 requests in a
// second. mdcap's outbound limiter (a token bucket: at most burst + rate
// requests in any second) keeps it under: 9 requests (authorize, 4
// symbols × quote and DOM) at 4/s with a burst of 4 are never cut; the
// same session without the limiter is.
func TestSimRateLimiterKeepsUnderServerLimit(t *testing.T) {
	for _, limited := range []bool{true, false} {
		t.Run(fmt.Sprintf("limited=%v", limited), func(t *testing.T) {
			s, gt := startSim(t, func(c *sim.Config) { c.Rules.MaxRequestsPerSecond = 8 })
			rec := newRecorder(t)
			cfg := simConfig(s, "ESZ6", "NQZ6", "CLZ6", "GCZ6")
			cfg.DOM = true
			cfg.RequestRate, cfg.RequestBurst = 4, 4
			if !limited {
				cfg.RequestRate, cfg.RequestBurst = 1000, 100
			}
			r := start(t, cfg, rec)
			if limited {
				after := rec.waitEvent(EventSubscribed, 4, nil).Time.Add(300 * time.Millisecond).UnixNano()
				rec.waitQuote(func(q recQuote) bool { return q.recv > after })
			} else {
				rec.waitEvent(EventDown, 1, nil)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			ends := gtEnds(t, gt)
			if limited && (ends["request_rate"] != 0 || rec.count(EventDown) != 0) {
				t.Fatalf("limited session was cut: ends %v, events %v", ends, rec.kinds())
			}
			if !limited && ends["request_rate"] == 0 {
				t.Fatalf("unlimited session was not cut for its rate: ends %v", ends)
			}
		})
	}
}
