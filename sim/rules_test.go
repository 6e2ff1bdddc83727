package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// within checks that d lies in [lo, hi].
func within(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d < lo || d > hi {
		t.Fatalf("%s after %v, want between %v and %v", what, d, lo, hi)
	}
}

// cutCause closes the server and returns the ground-truth end cause of conn.
func cutCause(t *testing.T, s *Server, gt *bytes.Buffer, conn int64) string {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return endOf(readGT(t, gt), conn)
}

func TestClientTimeoutCutsWithoutCloseFrame(t *testing.T) {
	s, gt := startSim(t, func(c *Config) { c.Rules.ClientTimeout = 400 * time.Millisecond })
	c := dial(t, s)
	c.authorize(s, 1)
	// Client heartbeats keep the connection alive past the timeout...
	start := time.Now()
	var silent time.Time
	for time.Since(start) < time.Second {
		c.send("[]")
		silent = time.Now()
		time.Sleep(100 * time.Millisecond) // the client's own heartbeat period
	}
	// ...and silence ends it, with no close frame.
	cut, _ := c.expectCut(3 * time.Second)
	if !cut {
		t.Fatal("got a close frame, want a TCP cut")
	}
	within(t, "cut", time.Since(silent), 380*time.Millisecond, 1500*time.Millisecond)
	if cause := cutCause(t, s, gt, 1); cause != "client_timeout" {
		t.Fatalf("cause %q", cause)
	}
}

func TestAuthorizeTimeoutCuts(t *testing.T) {
	s, gt := startSim(t, func(c *Config) { c.Rules.AuthorizeTimeout = 300 * time.Millisecond })
	start := time.Now()
	c := dial(t, s)
	c.send("[]")
	cut, frames := c.expectCut(3 * time.Second)
	if !cut {
		t.Fatal("got a close frame, want a TCP cut")
	}
	within(t, "cut", time.Since(start), 250*time.Millisecond, 1500*time.Millisecond)
	for _, f := range frames {
		if f != "h" {
			t.Fatalf("unexpected frame %q before the cut", f)
		}
	}
	if cause := cutCause(t, s, gt, 1); cause != "authorize_timeout" {
		t.Fatalf("cause %q", cause)
	}
}

func TestDuplicateRequestIDCuts(t *testing.T) {
	s, gt := startSim(t, nil)
	c := dial(t, s)
	c.authorize(s, 7)
	c.send("contract/find\n8\nname=ESZ6\n")
	if m := c.response(8); m.S != 200 {
		t.Fatalf("contract/find: %+v", m)
	}
	c.send("contract/find\n8\nname=NQZ6\n")
	cut, frames := c.expectCut(2 * time.Second)
	if !cut {
		t.Fatal("got a close frame, want a TCP cut")
	}
	for _, f := range frames {
		if strings.Contains(f, `"i":8`) {
			t.Fatalf("the duplicate got an answer: %q", f)
		}
	}
	if cause := cutCause(t, s, gt, 1); cause != "duplicate_id" {
		t.Fatalf("cause %q", cause)
	}
}

func TestRequestRateCuts(t *testing.T) {
	s, gt := startSim(t, func(c *Config) { c.Rules.MaxRequestsPerSecond = 5 })
	c := dial(t, s)
	c.authorize(s, 1) // request 1
	for i := 2; i <= 6; i++ {
		c.send(fmt.Sprintf("contract/find\n%d\nname=ESZ6\n", i))
	}
	if cut, _ := c.expectCut(2 * time.Second); !cut {
		t.Fatal("got a close frame, want a TCP cut")
	}
	if cause := cutCause(t, s, gt, 1); cause != "request_rate" {
		t.Fatalf("cause %q", cause)
	}
}

func TestRequestRateWithinLimitIsServed(t *testing.T) {
	s, _ := startSim(t, func(c *Config) { c.Rules.MaxRequestsPerSecond = 5 })
	c := dial(t, s)
	c.authorize(s, 1)
	for i := 2; i <= 5; i++ {
		c.send(fmt.Sprintf("contract/find\n%d\nname=ESZ6\n", i))
		if m := c.response(int64(i)); m.S != 200 {
			t.Fatalf("request %d: %+v", i, m)
		}
	}
}

func TestMaxConnAgeCuts(t *testing.T) {
	s, gt := startSim(t, func(c *Config) { c.Rules.MaxConnAge = 500 * time.Millisecond })
	start := time.Now()
	c := subscribed(t, s)
	cut, _ := c.expectCut(3 * time.Second)
	if !cut {
		t.Fatal("got a close frame, want a TCP cut")
	}
	within(t, "cut", time.Since(start), 450*time.Millisecond, 2*time.Second)
	if cause := cutCause(t, s, gt, 1); cause != "max_age" {
		t.Fatalf("cause %q", cause)
	}
}

func TestLockoutAnswers429(t *testing.T) {
	s, _ := startSim(t, func(c *Config) {
		c.Rules.LockoutRequests = 3
		c.Rules.LockoutWindow = time.Second
		c.Rules.LockoutFor = 300 * time.Millisecond
	})
	c := dial(t, s)
	c.authorize(s, 1)
	c.send("contract/find\n2\nname=ESZ6\n")
	c.send("contract/find\n3\nname=ESZ6\n")
	if m := c.response(3); m.S != 200 {
		t.Fatalf("request 3: %+v", m)
	}
	c.send("contract/find\n4\nname=ESZ6\n") // the 4th in the window
	if m := c.response(4); m.S != 429 || m.D != nil {
		t.Fatalf("request 4: %+v, want 429 without d", m)
	}
	c.send("contract/find\n5\nname=ESZ6\n") // during the lockout, extends it
	if m := c.response(5); m.S != 429 {
		t.Fatalf("request 5: %+v, want 429", m)
	}
	time.Sleep(400 * time.Millisecond) // let the lockout pass
	c.send("contract/find\n6\nname=ESZ6\n")
	if m := c.response(6); m.S != 200 {
		t.Fatalf("request 6 after the lockout: %+v", m)
	}
}

func TestConnectionQuotaShutsDownOldest(t *testing.T) {
	s, gt := startSim(t, func(c *Config) { c.Rules.MaxConnsPerUser = 1 })
	old := dial(t, s)
	oldToken := token(t, s)
	old.send("authorize\n1\n\n" + oldToken)
	if m := old.response(1); m.S != 200 {
		t.Fatalf("authorize: %+v", m)
	}
	fresh := dial(t, s)
	fresh.authorize(s, 1)
	cut, frames := old.expectCut(2 * time.Second)
	if cut {
		t.Fatalf("oldest connection was cut without a close frame; frames %q", frames)
	}
	if len(frames) < 2 || !strings.Contains(frames[len(frames)-2], `{"e":"shutdown","d":{"reasonCode":"ConnectionQuotaReached"}}`) ||
		frames[len(frames)-1] != `c[3000,"Go away!"]` {
		t.Fatalf("frames %q, want shutdown event then c[3000,...]", frames)
	}
	if st, _ := getJSON(t, s.RESTURL()+"/contract/find?name=ESZ6", oldToken); st != 401 {
		t.Fatalf("revoked token: status %d, want 401", st)
	}
	fresh.send("contract/find\n2\nname=ESZ6\n")
	if m := fresh.response(2); m.S != 200 {
		t.Fatalf("newest connection: %+v", m)
	}
	if cause := cutCause(t, s, gt, 1); cause != "shutdown:ConnectionQuotaReached" {
		t.Fatalf("cause %q", cause)
	}
}

func TestServerHeartbeatOnlyWhenIdle(t *testing.T) {
	s, _ := startSim(t, func(c *Config) {
		c.Rules.Heartbeat = 250 * time.Millisecond
		c.Rate = 200
	})
	c := dial(t, s)
	c.authorize(s, 1)
	// Idle: nothing but h, about every 250 ms.
	if f := c.read(); f != "h" {
		t.Fatalf("idle frame %q, want h", f)
	}
	first := time.Now()
	for i := 0; i < 3; i++ {
		if f := c.read(); f != "h" {
			t.Fatalf("idle frame %q, want h", f)
		}
	}
	within(t, "three more h", time.Since(first), 600*time.Millisecond, 3*time.Second)
	// Streaming: data every 5 ms, so no h.
	c.send("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}")
	c.response(2)
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
		if f := c.read(); f == "h" {
			t.Fatal("h sent while data was streaming")
		}
	}
}

func TestTokenExpiryPolicies(t *testing.T) {
	for _, policy := range []TokenExpiryPolicy{TokenKeep, TokenSilent, TokenCut} {
		t.Run(string(policy), func(t *testing.T) {
			s, gt := startSim(t, func(c *Config) {
				c.Rules.TokenExpiry = policy
				c.Rules.Heartbeat = 100 * time.Millisecond
			})
			c := subscribed(t, s)
			s.ExpireTokens()
			if policy == TokenCut {
				if cut, _ := c.expectCut(time.Second); !cut {
					t.Fatal("cut: got a close frame")
				}
				if cause := cutCause(t, s, gt, 1); cause != EndTokenExpired {
					t.Fatalf("cause %q", cause)
				}
				return
			}
			if policy == TokenSilent {
				// Drain what was written before: an h means the writer went idle.
				for c.read() != "h" {
				}
			}
			// Watch the next 400 ms (h keeps coming every 100 ms when idle).
			var data, beats int
			for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); {
				if f := c.read(); f == "h" {
					beats++
				} else if strings.Contains(f, `"e":"md"`) {
					data++
				}
			}
			switch policy {
			case TokenKeep:
				if data == 0 {
					t.Fatal("keep: data stopped after token expiry")
				}
			case TokenSilent:
				if data > 0 || beats == 0 {
					t.Fatalf("silent: %d data frames, %d heartbeats after expiry", data, beats)
				}
			}

		})
	}
}

func TestExpiredTokenIs401(t *testing.T) {
	s, _ := startSim(t, nil)
	tok := token(t, s)
	s.ExpireTokens()
	c := dial(t, s)
	c.send("authorize\n0\n\n" + tok)
	m := c.response(0)
	if m.S != 401 || string(m.D) != `"Invalid access token"` {
		t.Fatalf("expired token: %+v", m)
	}
}

func TestWebSocketPenaltyTicket(t *testing.T) {
	s, _ := startSim(t, func(c *Config) { c.PenaltyWait = 300 * time.Millisecond })
	c := dial(t, s)
	c.authorize(s, 1)
	s.PenalizeRequests(1)
	c.send("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}")
	m := c.response(2)
	var p struct {
		Ticket string `json:"p-ticket"`
		Time   int    `json:"p-time"`
	}
	if err := json.Unmarshal(m.D, &p); m.S != 200 || err != nil || p.Ticket == "" || p.Time != 1 {
		t.Fatalf("penalised subscribe: %+v (%v)", m, err)
	}
	retry := fmt.Sprintf("{\"symbol\":\"ESZ6\",\"p-ticket\":%q}", p.Ticket)
	c.send("md/subscribeQuote\n3\n\n" + retry) // too early: the same ticket again
	if m := c.response(3); !strings.Contains(string(m.D), p.Ticket) {
		t.Fatalf("early retry: %+v", m)
	}
	time.Sleep(350 * time.Millisecond) // p-time
	c.send("md/subscribeQuote\n4\n\n" + retry)
	if m := c.response(4); m.S != 200 || m.D != nil {
		t.Fatalf("retry after p-time: %+v", m)
	}
	for {
		if f := c.read(); strings.Contains(f, `"quotes"`) {
			break
		}
	}
}

func TestScheduledPenalty(t *testing.T) {
	s, _ := startSim(t, func(c *Config) {
		c.Faults = []Fault{{Kind: FaultPenalty, At: []time.Duration{0}, Code: 2}}
	})
	waitFor(t, "the penalty fault", func() bool {
		s.wsPen.mu.Lock()
		defer s.wsPen.mu.Unlock()
		return s.wsPen.forced == 2
	})
	c := dial(t, s)
	c.authorize(s, 1)
	for id := int64(2); id <= 4; id++ {
		c.send(fmt.Sprintf("md/subscribeQuote\n%d\n\n{\"symbol\":\"ESZ6\"}", id))
		m := c.response(id)
		penalised := strings.Contains(string(m.D), "p-ticket")
		if penalised != (id < 4) {
			t.Fatalf("request %d: %+v", id, m)
		}
	}
}

func TestIPQuotaShutsDownOldest(t *testing.T) {
	s, gt := startSim(t, func(c *Config) { c.Rules.MaxIPsPerUser = 1 })
	old := dial(t, s) // from 127.0.0.1
	old.authorize(s, 1)
	d := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}
	ws, resp, err := d.Dial(s.WSURL(), nil)
	if err != nil {
		t.Skipf("cannot dial from 127.0.0.2: %v", err)
	}
	resp.Body.Close()
	fresh := &client{t: t, ws: ws, closeGot: make(chan int, 1)}
	defer ws.Close()
	fresh.read() // o
	fresh.authorize(s, 1)
	cut, frames := old.expectCut(2 * time.Second)
	if cut || len(frames) < 2 || !strings.Contains(frames[len(frames)-2], `"reasonCode":"IPQuotaReached"`) {
		t.Fatalf("cut %v frames %q", cut, frames)
	}
	if cause := cutCause(t, s, gt, 1); cause != EndShutdownPrefix+ShutdownIPQuotaReached {
		t.Fatalf("cause %q", cause)
	}
}
