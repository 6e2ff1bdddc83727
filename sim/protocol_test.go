package sim

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestRequestErrors(t *testing.T) {
	s, _ := startSim(t, nil)
	c := dial(t, s)
	tok := token(t, s)

	// Before authorize: 401.
	c.send("md/subscribeQuote\n1\n\n{\"symbol\":\"ESZ6\"}")
	if m := c.response(1); m.S != 401 {
		t.Fatalf("before authorize: %+v", m)
	}
	// A JSON-quoted token is refused.
	c.send("authorize\n2\n\n\"" + tok + "\"")
	if m := c.response(2); m.S != 401 || string(m.D) != `"Invalid access token"` {
		t.Fatalf("quoted token: %+v", m)
	}
	// The raw token is accepted; the response has no d.
	c.send("authorize\n3\n\n" + tok)
	if m := c.response(3); m.S != 200 || m.D != nil {
		t.Fatalf("raw token: %+v", m)
	}
	cases := []struct {
		req    string
		status int
		d      string // exact d, or "" for any
	}{
		{"quote/subscribe\n4\n\n{\"symbol\":\"ESZ6\"}", 404, `"\"Not found: quote/subscribe\""`},
		{"md/subscribeQuote\n5\n\n", 400, `"No usable value for symbol"`},
		{"md/subscribeQuote\n6\n{\"symbol\":\"ESZ6\"}\n", 400, `"No usable value for symbol"`}, // body on the query line
		{"md/subscribeQuote\n7\n\n{'symbol':'ESZ6'}", 400, ""},                                 // single quotes
		{"md/subscribeQuote\n8\n\n{\"symbol\":\"ZZZ9\"}", 404, `"Unknown symbol: ZZZ9"`},
		{"md/subscribeDOM\n9\n\n{\"symbol\":42}", 404, `"Unknown contract id: 42"`},
		{"MD/SUBSCRIBEQUOTE\n10\n\n{\"symbol\":\"esz6\"}", 200, ""},     // case-insensitive
		{"md/unsubscribeQuote\n11\n\n{\"symbol\":\"ESZ6\"}\n", 200, ""}, // trailing newline tolerated
		{"contract/find\n12\nname=NQZ6\n", 200, ""},
		{"contract/item\n13\nid=3570919\n", 200, ""},
		{"contract/find\n14\nname=NOPE\n", 404, ""},
	}
	for _, tc := range cases {
		c.send(tc.req)
		var id int64
		fmt.Sscan(strings.Split(tc.req, "\n")[1], &id)
		m := c.response(id)
		if m.S != tc.status || (tc.d != "" && string(m.D) != tc.d) {
			t.Errorf("%q: got s=%d d=%s, want s=%d d=%s", tc.req, m.S, m.D, tc.status, tc.d)
		}
		if m.S == 200 && strings.HasPrefix(tc.req, "contract/") && !bytes.Contains(m.D, []byte(`"name":"NQZ6"`)) {
			t.Errorf("%q: d %s", tc.req, m.D)
		}
	}
}

func TestGarbageCutsTheConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		bin   bool
		cause string
	}{
		{"no id line", []byte("hello"), false, "bad_request"},
		{"id not a number", []byte("md/subscribeQuote\nabc\n\n{}"), false, "bad_request"},
		{"empty endpoint", []byte("\n5\n\n"), false, "bad_request"},
		{"binary frame", []byte{0, 1, 2}, true, "protocol_error"},
		{"huge frame", bytes.Repeat([]byte("x"), 200<<10), false, "frame_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, gt := startSim(t, nil)
			c := dial(t, s)
			c.authorize(s, 1)
			typ := websocket.TextMessage
			if tc.bin {
				typ = websocket.BinaryMessage
			}
			_ = c.ws.WriteMessage(typ, tc.frame) // the server may cut while we write
			if cut, _ := c.expectCut(2 * time.Second); !cut {
				t.Fatal("got a close frame, want a TCP cut")
			}
			if cause := cutCause(t, s, gt, 1); cause != tc.cause {
				t.Fatalf("cause %q, want %q", cause, tc.cause)
			}
		})
	}
}

// TestHalfWrittenFrame writes half a WebSocket frame and hangs up: the
// server must end the connection quietly.
func TestHalfWrittenFrame(t *testing.T) {
	s, gt := startSim(t, nil)
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	req := "GET /v1/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, _ := nc.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 101") {
		t.Fatalf("upgrade answer %q", buf[:n])
	}
	// A masked text frame announcing 100 bytes, of which 3 arrive.
	_, _ = nc.Write([]byte{0x81, 0x80 | 100, 1, 2, 3, 4, 'a', 'b', 'c'})
	nc.Close()
	// The 101 answer is written before the server registers the
	// connection: wait until it was registered and has ended.
	waitFor(t, "the server to see and drop the connection", func() bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.nextConn >= 1 && len(s.conns) == 0
	})
	if cause := cutCause(t, s, gt, 1); cause != "client_eof" {
		t.Fatalf("cause %q", cause)
	}
}

func TestUpgradeOnlyOnWebSocketPath(t *testing.T) {
	s, _ := startSim(t, nil)
	for _, u := range []string{"ws://" + s.Addr() + "/", "ws://" + s.Addr() + "/v1/other"} {
		ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
		if err == nil {
			ws.Close()
			t.Fatalf("%s upgraded", u)
		}
		if resp == nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 404 {
			t.Fatalf("%s: status %d", u, resp.StatusCode)
		}
	}
	resp, err := noKeepAlive.Get("http://" + s.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("root: %d", resp.StatusCode)
	}
}

func TestUnsubscribeStopsTheStream(t *testing.T) {
	s, _ := startSim(t, nil)
	c := subscribed(t, s)
	c.send("md/unsubscribeQuote\n3\n\n{\"symbol\":\"ESZ6\"}")
	c.response(3)
	// After the response no further quote may arrive: the queue was purged
	// of ESZ6 quotes when the response was queued.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		f, err := c.readErr(time.Until(end) + 10*time.Millisecond)
		if err != nil {
			break
		}
		if strings.Contains(f, `"quotes"`) {
			t.Fatalf("quote after unsubscribe: %q", f)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"non-loopback":  func(c *Config) { c.Addr = "0.0.0.0:0" },
		"bad address":   func(c *Config) { c.Addr = "nonsense" },
		"negative rate": func(c *Config) { c.Rate = -1 },
		"NaN rate":      func(c *Config) { c.Rate = math.NaN() },
		"zero tick":     func(c *Config) { c.Contracts = []Contract{{ID: 1, Name: "X", Price: 1}} },
		"duplicate name": func(c *Config) {
			c.Contracts = append(c.Contracts, Contract{ID: 9, Name: "esz6", TickSize: 1, Price: 1})
		},
		"token policy":   func(c *Config) { c.Rules.TokenExpiry = "sometimes" },
		"lockout window": func(c *Config) { c.Rules.LockoutRequests = 3 },
		"huge rate":      func(c *Config) { c.Contracts = []Contract{{ID: 1, Name: "X", TickSize: 1, Price: 1, Rate: 1e12}} },
	} {
		cfg := DefaultConfig()
		mut(&cfg)
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("authorize\n0\n\ntoken"))
	f.Add([]byte("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}"))
	f.Add([]byte("[]"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := parseRequest(b)
		if ok && r.endpoint == "" {
			t.Fatal("accepted an empty endpoint")
		}
	})
}
