package feed

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
)

// tokenResponse is the body of auth/accesstokenrequest and
// auth/renewaccesstoken, including the penalty fields.
type tokenResponse struct {
	AccessToken    string  `json:"accessToken"`
	MDAccessToken  string  `json:"mdAccessToken"`
	ExpirationTime string  `json:"expirationTime"`
	UserStatus     string  `json:"userStatus"`
	ErrorText      string  `json:"errorText"`
	PTicket        string  `json:"p-ticket"`
	PTime          float64 `json:"p-time"`
	PCaptcha       bool    `json:"p-captcha"`
}

// tokenGrant is a token as obtained, with its lifetime measured on the
// local monotonic clock from the moment the response arrived.
type tokenGrant struct {
	access, md Secret
	arrived    time.Time     // local, monotonic
	lifetime   time.Duration // expirationTime minus the server's "now"
	known      bool          // expirationTime was present and parsable
}

// maxPenalties bounds consecutive penalty retries of one request, so a
// server that keeps issuing tickets cannot hold mdcap in a loop.
const maxPenalties = 8

// requestToken runs auth/accesstokenrequest with the penalty protocol:
// wait p-time, resend with p-ticket; p-captcha, errorText and rejected
// credentials are permanent errors.
func (s *Session) requestToken(ctx context.Context) (tokenGrant, error) {
	cr := s.cfg.Credentials
	body := map[string]any{
		"name":     cr.Username,
		"password": cr.Password.Reveal(),
	}
	if cr.AppID != "" {
		body["appId"] = cr.AppID
	}
	if cr.AppVersion != "" {
		body["appVersion"] = cr.AppVersion
	}
	if cr.CID != "" {
		body["cid"] = cr.CID
	}
	if cr.Sec != "" {
		body["sec"] = cr.Sec.Reveal()
	}
	if cr.DeviceID != "" {
		body["deviceId"] = cr.DeviceID
	}
	for attempt := 0; ; attempt++ {
		raw, err := json.Marshal(body)
		if err != nil {
			return tokenGrant{}, fmt.Errorf("encode access token request: %w", err)
		}
		tr, hdr, status, err := s.authCall(ctx, http.MethodPost, "auth/accesstokenrequest", raw, "")
		if err != nil {
			return tokenGrant{}, err
		}
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return tokenGrant{}, permanent("access token request rejected (HTTP %d): check username, password, app id, cid and sec", status)
		case status == http.StatusTooManyRequests:
			wait := retryAfter(hdr, s.cfg.LockoutWait)
			if err := s.penaltyWait(ctx, "auth/accesstokenrequest", status, wait, attempt); err != nil {
				return tokenGrant{}, err
			}
			continue
		case status != http.StatusOK:
			return tokenGrant{}, fmt.Errorf("request access token: HTTP %d", status)
		case tr.PCaptcha:
			return tokenGrant{}, permanent("access token request needs a captcha (p-captcha): a third-party app cannot solve it; wait about %s, check the credentials, then retry", s.cfg.CaptchaWait)
		case tr.PTicket != "":
			wait := time.Duration(tr.PTime * float64(time.Second))
			if err := s.penaltyWait(ctx, "auth/accesstokenrequest", status, wait, attempt); err != nil {
				return tokenGrant{}, err
			}
			body["p-ticket"] = tr.PTicket
			continue
		case tr.ErrorText != "":
			return tokenGrant{}, permanent("access token request rejected: %s", tr.ErrorText)
		case tr.AccessToken == "" && tr.MDAccessToken == "":
			return tokenGrant{}, errors.New("request access token: response has no token")
		}
		return grantFrom(tr, hdr), nil
	}
}

// renewToken runs auth/renewaccesstoken with the current access token.
// A missing mdAccessToken keeps the previous one.
func (s *Session) renewToken(ctx context.Context, cur tokenGrant) (tokenGrant, error) {
	for attempt := 0; ; attempt++ {
		tr, hdr, status, err := s.authCall(ctx, http.MethodGet, "auth/renewaccesstoken", nil, cur.access.Reveal())
		if err != nil {
			return tokenGrant{}, err
		}
		switch {
		case status == http.StatusTooManyRequests:
			if err := s.penaltyWait(ctx, "auth/renewaccesstoken", status, retryAfter(hdr, s.cfg.LockoutWait), attempt); err != nil {
				return tokenGrant{}, err
			}
			continue
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return tokenGrant{}, errTokenRejected
		case status != http.StatusOK:
			return tokenGrant{}, fmt.Errorf("renew access token: HTTP %d", status)
		case tr.PTicket != "" && !tr.PCaptcha:
			if err := s.penaltyWait(ctx, "auth/renewaccesstoken", status, time.Duration(tr.PTime*float64(time.Second)), attempt); err != nil {
				return tokenGrant{}, err
			}
			continue
		case tr.ErrorText != "" || tr.PCaptcha || tr.AccessToken == "":
			return tokenGrant{}, errTokenRejected
		}
		g := grantFrom(tr, hdr)
		if tr.MDAccessToken == "" {
			g.md = cur.md
		}
		return g, nil
	}
}

// errTokenRejected: the server refused the current token.
var errTokenRejected = errors.New("access token rejected")

// penaltyWait reports a server-imposed wait and sleeps it.
func (s *Session) penaltyWait(ctx context.Context, endpoint string, status int, wait time.Duration, attempt int) error {
	if attempt >= maxPenalties {
		return fmt.Errorf("%s: still penalised after %d waits", endpoint, attempt)
	}
	s.log.Warn().Str("endpoint", endpoint).Int("status", status).Dur("wait", wait).Msg("server penalty: waiting before retrying")
	reason := ReasonPenaltyTicket
	if status == http.StatusTooManyRequests {
		reason = ReasonRateLimited
	}
	s.emitEvent(Event{Kind: EventPenalty, Time: time.Now(), Reason: reason, Detail: map[string]any{
		"endpoint": endpoint, "status": status, "seconds": wait.Seconds()}})
	return sleepCtx(ctx, wait)
}

// authCall performs one REST call under AuthURL and decodes a token body.
// Transport errors are returned (retryable); the status is returned for
// the caller to judge.
func (s *Session) authCall(ctx context.Context, method, path string, body []byte, bearer string) (tokenResponse, http.Header, int, error) {
	var tr tokenResponse
	rd := io.Reader(http.NoBody)
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, joinURL(s.cfg.AuthURL, path), rd)
	if err != nil {
		return tr, nil, 0, fmt.Errorf("build %s request: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		if perr := untrustedCert("call "+path, err); perr != nil {
			return tr, nil, 0, perr
		}
		return tr, nil, 0, fmt.Errorf("call %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return tr, nil, 0, fmt.Errorf("read %s response: %w", path, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &tr); err != nil {
			return tr, nil, 0, fmt.Errorf("decode %s response: %w", path, err)
		}
	}
	return tr, resp.Header, resp.StatusCode, nil
}

// grantFrom builds a grant; the lifetime is expirationTime minus the
// server's Date (or the local wall clock when Date is absent), so a skewed
// local clock does not shift the renewal.
func grantFrom(tr tokenResponse, hdr http.Header) tokenGrant {
	g := tokenGrant{access: Secret(tr.AccessToken), md: Secret(tr.MDAccessToken), arrived: time.Now()}
	if g.access == "" {
		g.access = g.md
	}
	if exp, ok := parseTimestamp([]byte(tr.ExpirationTime)); ok {
		now := g.arrived.UnixNano()
		// The server's Date has one-second resolution: use it only when the
		// clocks disagree by more than that can explain.
		if d, err := http.ParseTime(hdr.Get("Date")); err == nil {
			if skew := time.Duration(now - d.UnixNano()); skew > 2*time.Second || skew < -2*time.Second {
				now = d.UnixNano()
			}
		}
		g.lifetime = time.Duration(exp - now)
		g.known = true
	}
	return g
}

// mdToken is the token that authorizes the market-data socket:
// mdAccessToken when there is one, else accessToken.
func (g tokenGrant) mdToken() Secret {
	if g.md != "" {
		return g.md
	}
	return g.access
}

// expiry is the local-clock estimate of when the token expires.
func (g tokenGrant) expiry() time.Time {
	if !g.known {
		return time.Time{}
	}
	return g.arrived.Add(g.lifetime)
}

// renewAt is when to renew: RenewBefore ahead of expiry, but never in the
// first half of a short lifetime.
func (g tokenGrant) renewAt(before time.Duration) time.Time {
	in := g.lifetime - before
	if in < g.lifetime/2 {
		in = g.lifetime / 2
	}
	return g.arrived.Add(in)
}

func retryAfter(h http.Header, def time.Duration) time.Duration {
	if h != nil {
		var secs float64
		if _, err := fmt.Sscanf(h.Get("Retry-After"), "%g", &secs); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second))
		}
	}
	return def
}

func joinURL(base, path string) string {
	return strings.TrimRight(base, "/") + "/" + path
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
