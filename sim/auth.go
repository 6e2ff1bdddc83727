package sim

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// session is one access-token session of a user: the tokens it issued
// (first request and renewals) share its expiry.
type session struct {
	id      int64
	user    *User
	expires time.Time
	revoked bool
}

// penalty is a p-ticket issued instead of an answer.
type penalty struct {
	until   time.Time
	captcha bool
}

// authStore holds users, sessions, tokens and penalties. Safe for
// concurrent use.
type authStore struct {
	lifetime    time.Duration
	maxSessions int
	penAfter    int
	penWait     time.Duration
	penCaptcha  bool

	mu        sync.Mutex
	users     []User
	tokens    map[string]*session
	sessions  map[int64][]*session // by user id, oldest first
	failures  map[string]int       // failed requests in a row, by user name
	penalties map[string]penalty   // by ticket
	forced    int                  // next requests to penalise (PenalizeAuth)
	nextID    int64
}

func newAuthStore(cfg *Config) *authStore {
	return &authStore{
		lifetime:    cfg.TokenLifetime,
		maxSessions: cfg.MaxSessions,
		penAfter:    cfg.AuthPenaltyAfter,
		penWait:     cfg.PenaltyWait,
		penCaptcha:  cfg.PenaltyCaptcha,
		users:       append([]User(nil), cfg.Users...),
		tokens:      make(map[string]*session),
		sessions:    make(map[int64][]*session),
		failures:    make(map[string]int),
		penalties:   make(map[string]penalty),
	}
}

// newToken returns a random opaque token.
func newToken(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b[:])
}

// tokenRequest is the body of auth/accesstokenrequest, already decoded.
type tokenRequest struct {
	Name, Password, AppID, CID, Sec, PTicket string
}

// tokenResult is the outcome of a token request: exactly one of the
// groups is set.
type tokenResult struct {
	// success
	access, md string
	sess       *session
	// failure
	errorText string
	// penalty
	ticket  string
	wait    time.Duration
	captcha bool
}

// request handles an access-token request at time now.
func (a *authStore) request(r tokenRequest, now time.Time) tokenResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	redeemed := false
	if r.PTicket != "" {
		if p, ok := a.penalties[r.PTicket]; ok {
			if now.Before(p.until) {
				return tokenResult{ticket: r.PTicket, wait: p.until.Sub(now), captcha: p.captcha}
			}
			delete(a.penalties, r.PTicket)
			redeemed = true
		}
	}
	if !redeemed && (a.forced > 0 || (a.penAfter > 0 && a.failures[r.Name] >= a.penAfter)) {
		if a.forced > 0 {
			a.forced--
		}
		t := newToken("pt-")
		a.penalties[t] = penalty{until: now.Add(a.penWait), captcha: a.penCaptcha}
		return tokenResult{ticket: t, wait: a.penWait, captcha: a.penCaptcha}
	}
	u := a.check(r)
	if u == nil {
		a.failures[r.Name]++
		return tokenResult{errorText: "Incorrect username or password. Please try again."}
	}
	delete(a.failures, r.Name)
	a.nextID++
	s := &session{id: a.nextID, user: u, expires: now.Add(a.lifetime)}
	list := append(a.sessions[u.ID], s)
	for len(list) > a.maxSessions && a.maxSessions > 0 {
		list[0].revoked = true
		list = list[1:]
	}
	a.sessions[u.ID] = list
	res := tokenResult{access: newToken("at-"), md: newToken("md-"), sess: s}
	a.tokens[res.access] = s
	a.tokens[res.md] = s
	return res
}

// check returns the user matching r's credentials, or nil.
func (a *authStore) check(r tokenRequest) *User {
	for i := range a.users {
		u := &a.users[i]
		if u.Name != r.Name || u.Password != r.Password {
			continue
		}
		if (u.AppID != "" && u.AppID != r.AppID) || (u.CID != "" && u.CID != r.CID) || (u.Sec != "" && u.Sec != r.Sec) {
			return nil
		}
		return u
	}
	return nil
}

// valid returns the live session of token at time now.
func (a *authStore) valid(token string, now time.Time) (*session, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.tokens[token]
	if !ok || s.revoked || !now.Before(s.expires) {
		return nil, false
	}
	return s, true
}

// live reports whether sess is neither revoked nor expired at now.
func (a *authStore) live(sess *session, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !sess.revoked && now.Before(sess.expires)
}

// renew issues a new access token for the session of token, extending it.
func (a *authStore) renew(token string, now time.Time) (string, *session, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.tokens[token]
	if !ok || s.revoked || !now.Before(s.expires) {
		return "", nil, false
	}
	s.expires = now.Add(a.lifetime)
	t := newToken("at-")
	a.tokens[t] = s
	return t, s, true
}

// expiresAt returns the session's expiry.
func (a *authStore) expiresAt(s *session) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return s.expires
}

// revoke ends session s.
func (a *authStore) revoke(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s.revoked = true
}

// expireAll makes every session expire at now.
func (a *authStore) expireAll(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, list := range a.sessions {
		for _, s := range list {
			if s.expires.After(now) {
				s.expires = now
			}
		}
	}
}

// penalize makes the next n token requests get a p-ticket.
func (a *authStore) penalize(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forced += n
}
