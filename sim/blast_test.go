package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// blastClient authorizes, subscribes to the quotes and DOM of every
// contract, then reads frames until the connection ends. It returns the
// md updates it decoded (by type), the last c[...] frame, and the server
// timestamps of the first contract's quotes.
func blastClient(t *testing.T, s *Server, ping bool) (quotes, doms int64, closeFrame string, ts []string) {
	t.Helper()
	c := dial(t, s)
	c.authorize(s, 1)
	id := int64(2)
	for _, k := range s.contracts {
		for _, ep := range []string{"md/subscribeQuote", "md/subscribeDOM"} {
			c.send(fmt.Sprintf("%s\n%d\n\n{\"symbol\":%q}", ep, id, k.Name))
			id++
		}
	}
	if ping { // a pong must not corrupt the raw stream
		if err := c.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	first := s.contracts[0].ID
	for {
		f, err := c.readErr(5 * time.Second)
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("read: %v (want a normal close)", err)
			}
			return
		}
		if strings.HasPrefix(f, "c[") {
			closeFrame = f
			continue
		}
		if f == "h" || f == "o" {
			continue
		}
		for _, m := range messages(t, f) {
			if m.E != "md" {
				continue
			}
			var d struct {
				Quotes []struct {
					TS string `json:"timestamp"`
					ID int64  `json:"contractId"`
				} `json:"quotes"`
				DOMs []json.RawMessage `json:"doms"`
			}
			if err := json.Unmarshal(m.D, &d); err != nil {
				t.Fatalf("md event %s: %v", m.D, err)
			}
			quotes += int64(len(d.Quotes))
			doms += int64(len(d.DOMs))
			for _, q := range d.Quotes {
				if q.ID == first {
					ts = append(ts, q.TS)
				}
			}
		}
	}
}

func TestBlastSendsCountThenClosesPolitely(t *testing.T) {
	done := make(chan BlastReport, 1)
	s, gt := startSim(t, func(c *Config) {
		c.Blast = Blast{Updates: 3000, UpdatesPerFrame: 3, DOMShare: 0.25, Frames: 97,
			OnDone: func(r BlastReport) { done <- r }}
	})
	quotes, doms, closeFrame, ts := blastClient(t, s, true)
	var r BlastReport
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no blast report")
	}
	if !r.Complete || r.Cause != EndBlastDone {
		t.Fatalf("report %+v: want complete, cause %s", r, EndBlastDone)
	}
	if quotes != r.Quotes || doms != r.DOMs || r.Updates != 3000 || quotes+doms != 3000 {
		t.Fatalf("client decoded %d quotes + %d DOMs; report %+v; want 3000 in all", quotes, doms, r)
	}
	if r.Frames != 1000 {
		t.Fatalf("frames %d, want 1000 (3 updates each)", r.Frames)
	}
	share := float64(doms) / 3000
	if share < 0.1 || share > 0.4 {
		t.Fatalf("DOM share %.2f, want about 0.25", share)
	}
	if closeFrame != `c[1000,"Blast complete"]` {
		t.Fatalf("close frame %q", closeFrame)
	}
	// The pool of 97 frames is sent about ten times: the timestamps of one
	// contract still increase across the passes.
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			t.Fatalf("timestamp %d %s not after %s", i, ts[i], ts[i-1])
		}
	}
	if len(ts) < 100 {
		t.Fatalf("only %d quotes of the first contract", len(ts))
	}
	if got := s.Stats().Sent; got != 3000 {
		t.Fatalf("Stats.Sent %d, want 3000", got)
	}
	if gt.Len() != 0 {
		// Connection ends are flushed on Close; no md lines are written.
		for _, l := range strings.Split(strings.TrimSpace(gt.String()), "\n") {
			if strings.Contains(l, `"type"`) {
				t.Fatalf("ground truth has an md line in blast mode: %s", l)
			}
		}
	}
	// A second connection gets no blast: it is served nothing but heartbeats.
	c := dial(t, s)
	c.authorize(s, 1)
	for _, k := range s.contracts {
		c.send(fmt.Sprintf("md/subscribeQuote\n%d\n\n{\"symbol\":%q}", 100+k.ID, k.Name))
		c.response(100 + k.ID)
	}
	for range 3 {
		if f := c.read(); f != "h" {
			t.Fatalf("second connection got %q, want only heartbeats", f)
		}
	}
}

func TestBlastWaitsForEverySubscription(t *testing.T) {
	s, _ := startSim(t, func(c *Config) { c.Blast = Blast{Updates: 10} })
	c := dial(t, s)
	c.authorize(s, 1)
	c.send("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}")
	c.response(2)
	if f := c.read(); f != "h" {
		t.Fatalf("got %q before every contract was subscribed, want h", f)
	}
}

func TestBlastConfigChecked(t *testing.T) {
	for _, b := range []Blast{{Updates: -1}, {Updates: 1, UpdatesPerFrame: -2}, {Updates: 1, DOMShare: 1.5}, {Updates: 1, Frames: -1}} {
		cfg := testConfig()
		cfg.Blast = b
		if _, err := Start(cfg); err == nil {
			t.Fatalf("Start accepted blast %+v", b)
		}
	}
}

func TestTimestampFormatter(t *testing.T) {
	var f tsFormatter
	for _, ms := range []int64{0, 999, 1000, 1_764_000_000_123, 1_764_000_000_999, 1_764_000_001_000} {
		got := make([]byte, 24)
		f.put(got, ms)
		if want := string(appendTS(nil, ms)); string(got) != want {
			t.Fatalf("%d: %s, want %s", ms, got, want)
		}
	}
}
