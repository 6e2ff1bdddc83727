package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testConfig is DefaultConfig with fast rules for tests.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Rate = 200
	cfg.Rules.Heartbeat = 200 * time.Millisecond
	cfg.Rules.ClientTimeout = 2 * time.Second
	cfg.Rules.AuthorizeTimeout = 2 * time.Second
	return cfg
}

// startSim starts a simulator with testConfig changed by mut, and checks
// at cleanup that Close leaves no goroutine behind.
func startSim(t *testing.T, mut func(*Config)) (*Server, *bytes.Buffer) {
	t.Helper()
	before := runtime.NumGoroutine()
	cfg := testConfig()
	gt := &bytes.Buffer{}
	cfg.GroundTruth = gt
	if mut != nil {
		mut(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		checkGoroutines(t, before)
	})
	return s, gt
}

// checkGoroutines waits (bounded) for the goroutine count to return to before.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines: %d before, %d after Close\n%s", before, n, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noKeepAlive is an HTTP client that leaves no idle connection (and so no
// goroutine) behind.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// postJSON posts body to url and decodes the JSON answer.
func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := noKeepAlive.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("post %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
	return resp.StatusCode, out
}

// getJSON GETs url with a Bearer token and decodes the JSON answer.
func getJSON(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatalf("get %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func defaultCreds() map[string]any {
	return map[string]any{
		"name": DefaultUsername, "password": DefaultPassword, "appId": DefaultAppID,
		"appVersion": "1.0", "cid": 8, "sec": DefaultSec, "deviceId": "test-device",
	}
}

// token requests an access token with the default credentials.
func token(t *testing.T, s *Server) string {
	t.Helper()
	status, out := postJSON(t, s.RESTURL()+"/auth/accesstokenrequest", defaultCreds())
	tok, _ := out["accessToken"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("token request: status %d body %v", status, out)
	}
	return tok
}

// client is a plain gorilla client that records whether a close frame came.
type client struct {
	t        *testing.T
	ws       *websocket.Conn
	closeGot chan int // the close code, if a WebSocket close frame arrived
	code     int      // the close code expectCut saw
}

// dial connects and reads the `o` frame.
func dial(t *testing.T, s *Server) *client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(s.WSURL(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	c := &client{t: t, ws: ws, closeGot: make(chan int, 1)}
	ws.SetCloseHandler(func(code int, text string) error {
		c.closeGot <- code
		return nil
	})
	t.Cleanup(func() { ws.Close() })
	if f := c.read(); f != "o" {
		t.Fatalf("first frame %q, want o", f)
	}
	return c
}

// readErr reads one frame within 3 s.
func (c *client) readErr(timeout time.Duration) (string, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.ws.ReadMessage()
	return string(b), err
}

func (c *client) read() string {
	c.t.Helper()
	f, err := c.readErr(3 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// message is one element of an a[...] frame.
type message struct {
	S int             `json:"s"`
	I *int64          `json:"i"`
	D json.RawMessage `json:"d"`
	E string          `json:"e"`
}

// messages decodes an a[...] frame.
func messages(t *testing.T, frame string) []message {
	t.Helper()
	if !strings.HasPrefix(frame, "a") {
		t.Fatalf("frame %q is not a[...]", frame)
	}
	var ms []message
	if err := json.Unmarshal([]byte(frame[1:]), &ms); err != nil {
		t.Fatalf("decode frame %q: %v", frame, err)
	}
	return ms
}

// response reads frames until the response to id, skipping md events and
// heartbeats, and returns it.
func (c *client) response(id int64) message {
	c.t.Helper()
	for {
		f := c.read()
		if f == "h" {
			continue
		}
		for _, m := range messages(c.t, f) {
			if m.I != nil && *m.I == id {
				return m
			}
		}
	}
}

// authorize authorizes with a fresh token using request id.
func (c *client) authorize(s *Server, id int64) {
	c.t.Helper()
	c.send(fmt.Sprintf("authorize\n%d\n\n%s", id, token(c.t, s)))
	if m := c.response(id); m.S != 200 {
		c.t.Fatalf("authorize: %+v", m)
	}
}

// expectCut reads until the connection ends and reports whether it ended
// without a close frame (TCP cut) and how long it took.
func (c *client) expectCut(within time.Duration) (cut bool, frames []string) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		f, err := c.readErr(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after %v (frames %q)", within, frames)
			}
			select {
			case c.code = <-c.closeGot:
				return false, frames
			default:
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				c.code = ce.Code
				return false, frames
			}
			return true, frames
		}
		frames = append(frames, f)
	}
}

// gtLine is one ground-truth record.
type gtLine = TruthRecord

func readGT(t *testing.T, b *bytes.Buffer) []gtLine {
	t.Helper()
	out, err := ReadTruth(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// endOf returns the recorded end cause of connection conn.
func endOf(lines []gtLine, conn int64) string {
	for _, l := range lines {
		if l.Conn == conn && l.End != "" {
			return l.End
		}
	}
	return ""
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
