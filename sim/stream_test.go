package sim

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type quoteObj struct {
	Timestamp  string `json:"timestamp"`
	ContractID int64  `json:"contractId"`
	Entries    map[string]struct {
		Price *float64 `json:"price"`
		Size  *float64 `json:"size"`
	} `json:"entries"`
}

type domObj struct {
	ContractID int64  `json:"contractId"`
	Timestamp  string `json:"timestamp"`
	Bids       []struct{ Price, Size float64 }
	Offers     []struct{ Price, Size float64 }
}

// mdObjects splits the md events of a frame into (type, exact JSON object).
func mdObjects(t *testing.T, frame string) (types []string, objs []json.RawMessage) {
	t.Helper()
	for _, m := range messages(t, frame) {
		if m.E != "md" {
			continue
		}
		var d struct {
			Quotes []json.RawMessage `json:"quotes"`
			DOMs   []json.RawMessage `json:"doms"`
		}
		if err := json.Unmarshal(m.D, &d); err != nil {
			t.Fatalf("md event: %v", err)
		}
		for _, q := range d.Quotes {
			types, objs = append(types, "quote"), append(objs, q)
		}
		for _, q := range d.DOMs {
			types, objs = append(types, "dom"), append(objs, q)
		}
	}
	return types, objs
}

func TestStreamQuotesDOMAndGroundTruth(t *testing.T) {
	s, gtBuf := startSim(t, nil)
	c := dial(t, s)
	c.authorize(s, 0)
	c.send("md/subscribeQuote\n1\n\n{\"symbol\":\"ESZ6\"}")
	c.send("md/subscribedom\n2\n\n{\"symbol\":3570919}") // by contract id, lower-case endpoint
	var gotTypes []string
	var got []json.RawMessage
	responses := map[int64]int{}
	for len(got) < 200 {
		f := c.read()
		if f == "h" {
			continue
		}
		for _, m := range messages(t, f) {
			if m.I != nil {
				responses[*m.I] = m.S
			}
		}
		ty, objs := mdObjects(t, f)
		gotTypes, got = append(gotTypes, ty...), append(got, objs...)
	}
	if responses[1] != 200 || responses[2] != 200 {
		t.Fatalf("subscribe responses %v", responses)
	}
	c.ws.Close()
	waitFor(t, "server to see the close", func() bool { return s.Conns() == 0 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readGT(t, gtBuf)

	// What the client read is exactly what the ground truth says was
	// written to connection 1, in the same order.
	var written []gtLine
	for _, l := range lines {
		if l.Conn == 1 && l.End == "" {
			written = append(written, l)
		}
	}
	if len(written) < len(got) {
		t.Fatalf("ground truth has %d updates, client read %d", len(written), len(got))
	}
	lastTS := map[string]string{}
	for i, raw := range got {
		w := written[i]
		if !bytes.Equal(w.D, raw) || w.Type != gotTypes[i] {
			t.Fatalf("update %d: client read %s %s, ground truth %s %s", i, gotTypes[i], raw, w.Type, w.D)
		}
		key := w.Type + w.Symbol
		if w.TS <= lastTS[key] { // same-length ISO strings compare in time order
			t.Fatalf("update %d: timestamp %s not after %s for %s", i, w.TS, lastTS[key], key)
		}
		lastTS[key] = w.TS
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", w.TS); err != nil || !strings.HasSuffix(w.TS, "Z") {
			t.Fatalf("timestamp %q: %v", w.TS, err)
		}
		switch w.Type {
		case "quote":
			var q quoteObj
			if err := json.Unmarshal(raw, &q); err != nil {
				t.Fatal(err)
			}
			if w.Symbol != "ESZ6" || q.ContractID != 3570918 || q.Timestamp != w.TS {
				t.Fatalf("quote %s for %s", raw, w.Symbol)
			}
			bid, ask := q.Entries["Bid"], q.Entries["Offer"]
			if bid.Price == nil || ask.Price == nil || *bid.Price >= *ask.Price {
				t.Fatalf("quote %s: bid not below ask", raw)
			}
			if v := q.Entries["TotalTradeVolume"].Size; v == nil || *v <= 0 {
				t.Fatalf("quote %s: no volume", raw)
			}
			if r := *bid.Price / 0.25; r != float64(int64(r)) {
				t.Fatalf("quote %s: bid off the tick grid", raw)
			}
		case "dom":
			var d domObj
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			if w.Symbol != "NQZ6" || d.ContractID != 3570919 || len(d.Bids) != 10 || len(d.Offers) != 10 {
				t.Fatalf("dom %s for %s", raw, w.Symbol)
			}
			if d.Bids[0].Price >= d.Offers[0].Price {
				t.Fatalf("dom %s: crossed book", raw)
			}
			for j := 1; j < 10; j++ {
				if d.Bids[j].Price >= d.Bids[j-1].Price || d.Offers[j].Price <= d.Offers[j-1].Price {
					t.Fatalf("dom %s: levels out of order", raw)
				}
			}
		}
	}
	if end := endOf(lines, 1); end != "client_close" && end != "client_eof" {
		t.Fatalf("end cause %q", end)
	}
}

func TestSeedRepeatsData(t *testing.T) {
	run := func() []string {
		k := newContract(DefaultContracts()[0], 10, 42, 0)
		var out []string
		now := time.Unix(1_800_000_000, 0)
		for i := 0; i < 50; i++ {
			q, d := k.step(now.Add(time.Duration(i)*time.Millisecond), 10)
			out = append(out, string(appendUpdate(nil, q)), string(appendUpdate(nil, d)))
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("update %d differs with the same seed:\n%s\n%s", i, a[i], b[i])
		}
	}
}

// TestConflationMatchesGroundTruth stalls a fast stream so that the send
// queue overflows: updates are merged, and what the client reads is still
// exactly what the ground truth says was written.
func TestConflationMatchesGroundTruth(t *testing.T) {
	s, gtBuf := startSim(t, func(c *Config) {
		c.Rate = 500
		c.SendQueue = 6
		c.UpdatesPerFrame = 4
	})
	c := dial(t, s)
	c.authorize(s, 1)
	c.send("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}")
	c.send("md/subscribeQuote\n3\n\n{\"symbol\":\"NQZ6\"}")
	c.send("md/subscribeDOM\n4\n\n{\"symbol\":\"ESZ6\"}")
	var got []json.RawMessage
	for answered := false; !answered; { // data may precede the last response
		f := c.read()
		if f == "h" {
			continue
		}
		for _, m := range messages(t, f) {
			answered = answered || (m.I != nil && *m.I == 4)
		}
		_, objs := mdObjects(t, f)
		got = append(got, objs...)
	}
	s.Stall(300 * time.Millisecond)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		f := c.read()
		if f == "h" {
			continue
		}
		_, objs := mdObjects(t, f)
		got = append(got, objs...)
	}
	c.ws.Close()
	waitFor(t, "server to see the close", func() bool { return s.Conns() == 0 })
	st := s.Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Conflated == 0 {
		t.Fatal("nothing was conflated")
	}
	var written []gtLine
	for _, l := range readGT(t, gtBuf) {
		if l.End == "" {
			written = append(written, l)
		}
	}
	if int64(len(written)) != st.Sent || len(written) < len(got) {
		t.Fatalf("ground truth %d updates, stats %d, client read %d", len(written), st.Sent, len(got))
	}
	last := map[string]string{}
	for i, raw := range got {
		if !bytes.Equal(written[i].D, raw) {
			t.Fatalf("update %d: client %s, ground truth %s", i, raw, written[i].D)
		}
		key := written[i].Type + written[i].Symbol
		if written[i].TS <= last[key] {
			t.Fatalf("update %d: %s not after %s", i, written[i].TS, last[key])
		}
		last[key] = written[i].TS
	}
}

func TestMergeKeepsEntries(t *testing.T) {
	k := newContract(DefaultContracts()[0], 10, 1, 0)
	old := &update{c: k, kind: kindQuote, ms: 1, has: entBid | entTrade, bid: 1, bidSize: 2, trade: 3, tradeSize: 4}
	nu := &update{c: k, kind: kindQuote, ms: 2, has: entBid | entVolume, bid: 5, bidSize: 6, volume: 7}
	nu.merge(old)
	if nu.has != entBid|entTrade|entVolume || nu.bid != 5 || nu.trade != 3 || nu.volume != 7 || nu.ms != 2 {
		t.Fatalf("merged %+v", nu)
	}
	if !strings.Contains(string(nu.json), `"Trade":{"price":3,"size":4}`) {
		t.Fatalf("merged json %s", nu.json)
	}
}

func TestAppendPrice(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		dec  int
		want string
	}{
		{6012.25, 2, "6012.25"}, {6012, 2, "6012"}, {6012.5, 2, "6012.5"}, {64.07, 2, "64.07"},
		{1.10005, 5, "1.10005"}, {0.00005, 5, "0.00005"}, {2641.3, 1, "2641.3"}, {-3.25, 2, "-3.25"}, {17, 0, "17"},
	} {
		if got := string(appendPrice(nil, tc.v, tc.dec)); got != tc.want {
			t.Errorf("appendPrice(%v, %d) = %s, want %s", tc.v, tc.dec, got, tc.want)
		}
	}
}

// TestSlowReaderIsConflated reads slowly through small socket buffers:
// the server conflates, and the client still reads exactly what the
// ground truth lists.
func TestSlowReaderIsConflated(t *testing.T) {
	s, gtBuf := startSim(t, func(c *Config) {
		c.Rate = 2000
		c.Contracts = DefaultContracts()[:1]
		c.SendQueue = 16
		c.SocketBuffer = 4096
	})
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		nc, err := net.Dial(network, addr)
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return nc, err
	}}
	ws, resp, err := d.Dial(s.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c := &client{t: t, ws: ws, closeGot: make(chan int, 1)}
	defer ws.Close()
	c.read() // o
	c.authorize(s, 1)
	c.send("md/subscribeDOM\n2\n\n{\"symbol\":\"ESZ6\"}")
	var got []json.RawMessage
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end) || s.Stats().Conflated == 0; {
		f := c.read()
		if f != "h" {
			_, objs := mdObjects(t, f)
			got = append(got, objs...)
		}
		c.send("[]")
		time.Sleep(10 * time.Millisecond) // a slow reader
	}
	ws.Close()
	waitFor(t, "server to see the close", func() bool { return s.Conns() == 0 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var written []gtLine
	for _, l := range readGT(t, gtBuf) {
		if l.End == "" {
			written = append(written, l)
		}
	}
	if len(written) < len(got) || len(got) == 0 {
		t.Fatalf("ground truth %d updates, client read %d", len(written), len(got))
	}
	for i, raw := range got {
		if !bytes.Equal(written[i].D, raw) {
			t.Fatalf("update %d: client %s, ground truth %s", i, raw, written[i].D)
		}
	}
}
