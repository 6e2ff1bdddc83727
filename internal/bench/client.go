package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/sim"
)

// ClientResult is what a bench client reports on its stdout.
type ClientResult struct {
	Frames  int64 `json:"frames"`
	Bytes   int64 `json:"bytes"`
	Updates int64 `json:"updates"` // decoded (decode mode only)
	Quotes  int64 `json:"quotes"`
	DOMs    int64 `json:"doms"`
}

// simCredentials is the access-token request body the simulator accepts.
func simCredentials() map[string]any {
	return map[string]any{
		"name": sim.DefaultUsername, "password": sim.DefaultPassword, "appId": sim.DefaultAppID,
		"appVersion": "bench", "cid": sim.DefaultCID, "sec": sim.DefaultSec, "deviceId": "mdcap-bench",
	}
}

// accessToken asks the simulator's REST API for an md access token.
func accessToken(ctx context.Context, authURL string) (string, error) {
	body, _ := json.Marshal(simCredentials())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(authURL, "/")+"/auth/accesstokenrequest", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("request token: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken   string `json:"accessToken"`
		MDAccessToken string `json:"mdAccessToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("decode token response: %w", err)
	}
	if out.MDAccessToken != "" {
		return out.MDAccessToken, nil
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("request token: status %d, no token", resp.StatusCode)
	}
	return out.AccessToken, nil
}

// Discard is the wire-limit client: it authorizes, subscribes to the
// quotes and DOM of every symbol, then reads every frame and throws it
// away until the server closes. After the requests, its only writer is
// the goroutine that sends the client heartbeat `[]`.
func Discard(ctx context.Context, authURL, mdURL string, symbols []string) (ClientResult, error) {
	var res ClientResult
	tok, err := accessToken(ctx, authURL)
	if err != nil {
		return res, err
	}
	d := websocket.Dialer{ReadBufferSize: 64 << 10, WriteBufferSize: 4 << 10, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, mdURL, nil)
	if err != nil {
		return res, fmt.Errorf("dial %s: %w", mdURL, err)
	}
	resp.Body.Close()
	defer ws.Close()
	// All writes happen here before reading and then on the heartbeat
	// goroutine only: one writer at a time.
	id := 1
	send := func(endpoint, body string) error {
		id++
		return ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("%s\n%d\n\n%s", endpoint, id, body)))
	}
	if err := send("authorize", tok); err != nil {
		return res, fmt.Errorf("authorize: %w", err)
	}
	for _, s := range symbols {
		q := fmt.Sprintf(`{"symbol":%q}`, s)
		if err := errors.Join(send("md/subscribeQuote", q), send("md/subscribeDOM", q)); err != nil {
			return res, fmt.Errorf("subscribe %s: %w", s, err)
		}
	}
	hbDone := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(2500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if ws.WriteMessage(websocket.TextMessage, []byte("[]")) != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-hbDone }()
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return res, nil
			}
			return res, fmt.Errorf("read: %w", err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return res, fmt.Errorf("read frame: %w", err)
		}
		res.Frames++
		res.Bytes += n
	}
}

// counter is a feed.Handler that counts updates and cancels once it has
// seen want of them.
type counter struct {
	res    *ClientResult
	want   int64
	cancel context.CancelFunc
}

func (h *counter) HandleBatch(b *feed.Batch) {
	h.res.Frames++
	h.res.Quotes += int64(len(b.Quotes))
	h.res.DOMs += int64(len(b.DOMs))
	h.res.Updates += int64(len(b.Quotes) + len(b.DOMs))
	if h.res.Updates >= h.want {
		h.cancel()
	}
}

func (h *counter) HandleEvent(e feed.Event) {
	if e.Kind == feed.EventDown && h.res.Updates > 0 {
		h.cancel() // the blast's close: nothing more will come
	}
}

// Decode is the decode-only client: mdcap's feed session (dial,
// authorize, subscribe, read, parse, decode, route) with a handler that
// only counts. It returns after want updates or the blast's close.
func Decode(ctx context.Context, authURL, mdURL string, symbols []string, want int64) (ClientResult, error) {
	var res ClientResult
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &counter{res: &res, want: want, cancel: cancel}
	s, err := feed.NewSession(feed.Config{
		MDURL: mdURL, AuthURL: authURL,
		Credentials: feed.Credentials{
			Username: sim.DefaultUsername, Password: sim.DefaultPassword, AppID: sim.DefaultAppID,
			AppVersion: "bench", CID: sim.DefaultCID, Sec: sim.DefaultSec, DeviceID: "mdcap-bench",
		},
		Symbols: symbols, DOM: true, RequestRate: 200, RequestBurst: 50,
		Logger: zerolog.Nop(),
	}, h)
	if err != nil {
		return res, fmt.Errorf("start feed: %w", err)
	}
	if err := s.Run(ctx); err != nil {
		return res, fmt.Errorf("run feed: %w", err)
	}
	st := s.Stats()
	res.Bytes = st.Bytes
	return res, nil
}
