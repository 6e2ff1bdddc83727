package sim

import (
	"strings"
	"testing"
	"time"
)

// subscribed dials, authorizes and subscribes to ESZ6 quotes, and waits
// for the first data.
func subscribed(t *testing.T, s *Server) *client {
	t.Helper()
	c := dial(t, s)
	c.authorize(s, 1)
	c.send("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}")
	c.response(2)
	for {
		f := c.read()
		if strings.HasPrefix(f, `a[{"e":"md"`) {
			return c
		}
	}
}

func TestDropAllCutsWithoutCloseFrame(t *testing.T) {
	s, gt := startSim(t, nil)
	c1, c2 := subscribed(t, s), subscribed(t, s)
	s.DropAll()
	for _, c := range []*client{c1, c2} {
		if cut, frames := c.expectCut(2 * time.Second); !cut {
			t.Fatalf("got a close frame, want a TCP cut (frames %q)", frames)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readGT(t, gt)
	for _, id := range []int64{1, 2} {
		if end := endOf(lines, id); end != "drop" {
			t.Fatalf("conn %d end %q, want drop", id, end)
		}
	}
}

func TestStallKeepsTCPAndResumes(t *testing.T) {
	s, gt := startSim(t, nil)
	c := subscribed(t, s)
	s.Stall(500 * time.Millisecond)
	stalled := time.Now()
	// A request during the stall is neither read nor answered before it ends.
	c.send("contract/find\n9\nname=ESZ6\n")
	var gapStart time.Time
	var longest time.Duration
	last := time.Now()
	for {
		f := c.read()
		now := time.Now()
		if d := now.Sub(last); d > longest {
			longest, gapStart = d, last
		}
		last = now
		if strings.Contains(f, `"i":9`) {
			break
		}
	}
	if since := time.Since(stalled); since < 450*time.Millisecond {
		t.Fatalf("answer %v after the stall began, want ≥ 500ms", since)
	}
	if longest < 300*time.Millisecond || gapStart.Sub(stalled) > 200*time.Millisecond {
		t.Fatalf("longest silence %v starting %v after the stall", longest, gapStart.Sub(stalled))
	}
	// Data flows again on the same connection.
	for {
		if f := c.read(); strings.Contains(f, `"quotes"`) {
			break
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if end := endOf(readGT(t, gt), 1); end != "server_stop" {
		t.Fatalf("end %q", end)
	}
}

func TestCloseAllSendsCloseFrame(t *testing.T) {
	s, gt := startSim(t, nil)
	c := subscribed(t, s)
	s.CloseAll(4000, "bye")
	cut, frames := c.expectCut(2 * time.Second)
	if cut {
		t.Fatal("TCP cut, want a close frame")
	}
	if len(frames) == 0 || frames[len(frames)-1] != `c[4000,"bye"]` {
		t.Fatalf("frames %q, want c[4000,\"bye\"] last", frames)
	}
	if c.code != 4000 {
		t.Fatalf("WebSocket close code %d", c.code)
	}
	if end := cutCause(t, s, gt, 1); end != "server_close" {
		t.Fatalf("end %q", end)
	}
}

func TestShutdownEventThenClose(t *testing.T) {
	s, gt := startSim(t, nil)
	c := subscribed(t, s)
	s.Shutdown(ShutdownMaintenance, "Scheduled maintenance")
	cut, frames := c.expectCut(2 * time.Second)
	if cut || len(frames) < 2 {
		t.Fatalf("cut %v frames %q", cut, frames)
	}
	want := `{"e":"shutdown","d":{"reasonCode":"Maintenance","reason":"Scheduled maintenance"}}`
	if ev := frames[len(frames)-2]; !strings.HasSuffix(ev, want+"]") {
		t.Fatalf("frame %q, want it to end with the shutdown event", ev)
	}
	if frames[len(frames)-1] != `c[3000,"Go away!"]` {
		t.Fatalf("last frame %q", frames[len(frames)-1])
	}
	if end := cutCause(t, s, gt, 1); end != "shutdown:Maintenance" {
		t.Fatalf("end %q", end)
	}
}

func TestMalformedFrames(t *testing.T) {
	s, _ := startSim(t, nil)
	c := subscribed(t, s)
	for _, kind := range []string{MalformedJSON, MalformedLetter, MalformedTruncated} {
		if err := s.Malformed(kind); err != nil {
			t.Fatal(err)
		}
		want := string(malformedFrame(kind))
		for {
			if f := c.read(); f == want {
				break
			}
		}
	}
	if err := s.Malformed("nonsense"); err == nil {
		t.Fatal("unknown malformed kind accepted")
	}
	// The connection survives and keeps streaming.
	for {
		if f := c.read(); strings.Contains(f, `"quotes"`) {
			break
		}
	}
}

func TestScheduledDrops(t *testing.T) {
	s, gt := startSim(t, func(c *Config) {
		c.Faults = []Fault{{Kind: FaultDrop, At: []time.Duration{400 * time.Millisecond}}}
	})
	c := subscribed(t, s)
	if cut, _ := c.expectCut(3 * time.Second); !cut {
		t.Fatal("got a close frame")
	}
	within(t, "drop", time.Since(s.start), 380*time.Millisecond, 2*time.Second)
	if end := cutCause(t, s, gt, 1); end != "drop" {
		t.Fatalf("end %q", end)
	}
}

func TestPeriodicDrops(t *testing.T) {
	s, _ := startSim(t, func(c *Config) {
		c.Faults = []Fault{{Kind: FaultDrop, Every: 300 * time.Millisecond}}
	})
	for i := 0; i < 2; i++ {
		c := subscribed(t, s)
		if cut, _ := c.expectCut(3 * time.Second); !cut {
			t.Fatalf("connection %d: got a close frame", i+1)
		}
	}
}

func TestFaultValidation(t *testing.T) {
	for _, f := range []Fault{
		{Kind: "bogus", Every: time.Second},
		{Kind: FaultStall, Every: time.Second},
		{Kind: FaultMalformed, Every: time.Second, Reason: "nope"},
		{Kind: FaultDrop},
	} {
		cfg := DefaultConfig()
		cfg.Faults = []Fault{f}
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Fatalf("fault %+v accepted", f)
		}
	}
}

func TestScheduledFaultKinds(t *testing.T) {
	for _, tc := range []struct {
		fault Fault
		last  string // last frame before the end, or the frame to see
		cut   bool
		end   string
	}{
		{Fault{Kind: FaultClose, Code: 4001, Reason: "later"}, `c[4001,"later"]`, false, "server_close"},
		{Fault{Kind: FaultShutdown, Reason: ShutdownConnectionQuotaReached}, `c[3000,"Go away!"]`, false, "shutdown:ConnectionQuotaReached"},
		{Fault{Kind: FaultMalformed, Reason: MalformedLetter}, `x["unknown frame type"]`, false, ""},
		{Fault{Kind: FaultExpireToken}, "", true, "token_expired"},
	} {
		t.Run(string(tc.fault.Kind), func(t *testing.T) {
			f := tc.fault
			f.At = []time.Duration{300 * time.Millisecond}
			s, gt := startSim(t, func(c *Config) {
				c.Faults = []Fault{f}
				c.Rules.TokenExpiry = TokenCut
			})
			c := subscribed(t, s)
			if tc.end == "" { // the connection survives: wait for the frame
				for c.read() != tc.last {
				}
				return
			}
			cut, frames := c.expectCut(3 * time.Second)
			if cut != tc.cut || (tc.last != "" && (len(frames) == 0 || frames[len(frames)-1] != tc.last)) {
				t.Fatalf("cut %v, last frames %q", cut, frames[max(0, len(frames)-2):])
			}
			if end := cutCause(t, s, gt, 1); end != tc.end {
				t.Fatalf("end %q", end)
			}
		})
	}
}
