package sim

import "time"

// timedRules applies the rules that depend only on time (authorize
// deadline, maximum age, token expiry) and returns the cause when the
// connection must be cut.
func (c *conn) timedRules(now time.Time) string {
	r := &c.s.cfg.Rules
	c.mu.Lock()
	sess, silent := c.sess, c.silent
	c.mu.Unlock()
	if sess == nil && r.AuthorizeTimeout > 0 && now.Sub(c.created) >= r.AuthorizeTimeout {
		return EndAuthorizeTimeout
	}
	if r.MaxConnAge > 0 && now.Sub(c.created) >= r.MaxConnAge {
		return EndMaxAge
	}
	if sess != nil && !silent {
		return c.tokenRule(sess, now)
	}
	return ""
}

// tokenRule applies Rules.TokenExpiry to a connection authorized with sess:
// under TokenSilent an expired session silences it at once (pending data
// dropped); under TokenCut it returns the cause to cut it.
func (c *conn) tokenRule(sess *session, now time.Time) string {
	policy := c.s.cfg.Rules.TokenExpiry
	if policy == TokenKeep || c.s.auth.live(sess, now) {
		return ""
	}
	if policy == TokenCut {
		return EndTokenExpired
	}
	c.mu.Lock()
	already := c.silent
	c.silent = true
	clear(c.md)
	c.md = c.md[:0]
	c.mu.Unlock()
	if !already {
		c.log.Info().Msg("token expired: connection goes silent")
	}
	return ""
}

// nextRuleIn returns how long until a timed rule may fire (0: none).
func (c *conn) nextRuleIn(now time.Time) time.Duration {
	r := &c.s.cfg.Rules
	c.mu.Lock()
	sess, silent := c.sess, c.silent
	c.mu.Unlock()
	var next time.Duration
	consider := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	if sess == nil && r.AuthorizeTimeout > 0 {
		consider(c.created.Add(r.AuthorizeTimeout).Sub(now))
	}
	if r.MaxConnAge > 0 {
		consider(c.created.Add(r.MaxConnAge).Sub(now))
	}
	if sess != nil && r.TokenExpiry != TokenKeep && !silent {
		consider(c.s.auth.expiresAt(sess).Sub(now))
	}
	return next
}

// countRequest applies the request-rate rules to a request at now. It
// returns cut when the connection must be cut, and locked when the request
// must be answered 429.
func (c *conn) countRequest(now time.Time) (cut string, locked bool) {
	r := &c.s.cfg.Rules
	if r.MaxRequestsPerSecond > 0 {
		c.recent = prune(append(c.recent, now), now.Add(-time.Second))
		if len(c.recent) > r.MaxRequestsPerSecond {
			return EndRequestRate, false
		}
	}
	if r.LockoutRequests > 0 {
		if now.Before(c.lockedTo) {
			c.lockedTo = now.Add(r.LockoutFor) // requests during a lockout extend it
			return "", true
		}
		c.window = prune(append(c.window, now), now.Add(-r.LockoutWindow))
		if len(c.window) > r.LockoutRequests {
			c.lockedTo = now.Add(r.LockoutFor)
			c.window = c.window[:0]
			c.log.Info().Dur("for", r.LockoutFor).Msg("request lockout")
			return "", true
		}
	}
	return "", false
}

// prune drops the times before since from the front of ts (ascending).
func prune(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(since) {
		i++
	}
	if i == 0 {
		return ts
	}
	return ts[:copy(ts, ts[i:])]
}
